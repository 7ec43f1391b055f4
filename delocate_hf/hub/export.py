"""Export a Delocate checkpoint for the Hugging Face Hub, and push it (`delocate push`, `scripts/push_to_hub.py`).

Model repository (`export_model_folder`): the model re-saved with `save_pretrained` (config.json with `auto_map`,
model.safetensors, the modeling remote code), the `DelocateFaceProcessor` (preprocessor_config.json with `auto_map`,
image_processing_delocate.py and the processing files it imports), the `"deepfake-detection"` pipeline as remote
code (`custom_pipelines` in config.json -> pipeline_deepfake.py and the inference files it imports, see
`save_pipeline_code`), README.md (model card with `model-index`, see
`model_card.py`) and, when given, metrics.json. Every `auto_map` file and its relative imports are checked to be in
the folder, and none of them may import the project packages (`delocate_hf`, `modeling`, `processing`), so the
folder loads with `trust_remote_code=True` on a machine without this package, `pipeline("deepfake-detection",
model=folder, trust_remote_code=True)` included.

Space repository (`export_space_folder`, `--space`): the Gradio app of `spaces_app/` (app.py, requirements.txt,
README.md and its sibling modules, e.g. analysis.py) at the top of the folder, plus **vendored sources** of
`delocate_hf/`, `modeling/` and `processing/` so `import delocate_hf` works in the Space without installing this
package, and the exported model as the package's shipped default model (`delocate_hf/default_model/`, the folder
`delocate_hf.inference.default_model_path()` loads). requirements.txt = the app's requirements.txt as it is (a
line installing this package becomes a comment: it is vendored), or, without one, this package's install
requirements less Gradio (Spaces installs the README's `sdk_version`); a stderr note lists this package's
requirements the app's file leaves out. The README's Spaces YAML header is completed (`sdk: gradio`,
`sdk_version` = the header's, else the requirements' `gradio==X`, else the installed Gradio, `app_file: app.py`, ...);
packages.txt (apt) gets `libgl1` for OpenCV unless the app ships one. The app loads `$DELOCATE_MODEL` when that
Space variable is set, else the bundled model.

`push_to_hub` uploads exactly the exported folder (`HfApi.create_repo` + `upload_folder`, remote files that are not
in the folder are deleted in the same commit, `.gitattributes` excepted); with `dry_run=DIR` it only writes DIR.
After a model push, a second commit pins the first commit's hash as `revision` in the card's snippets
(`pin_revision=False` to skip).

The work is split by job, and this module re-exports the public names of each file: `export_common.py`
(`HubExportError`, argument and folder checks), `remote_code.py` (`verify_remote_code`, `save_pipeline_code`),
`model_folder.py` (`export_model_folder`, `write_model_card`), `space_folder.py` (`export_space_folder` and the
Space's requirements / README); `push_to_hub` and the `delocate push` command line are here.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .export_common import (
    HubExportError,
    check_metrics,
    check_repo_id,
    folder_files,
    hub_offline,
    load_json_arg,
    prepare_output_dir,
    repo_root,
)
from .model_folder import export_model_folder, write_model_card
from .remote_code import (
    PIPELINE_ENTRY,
    PIPELINE_FILES,
    PIPELINE_TASK,
    REMOTE_CODE_FORBIDDEN,
    auto_map_entries,
    save_pipeline_code,
    verify_remote_code,
)
from .space_folder import (
    DEFAULT_MODEL_SUBDIR,
    SELF_NAMES,
    SPACE_DEFAULTS,
    SPACE_SDK_PACKAGES,
    VENDOR_IGNORE,
    VENDORED_PACKAGES,
    export_space_folder,
    missing_package_requirements,
    package_requirements,
    space_readme,
    space_requirements,
    spaces_app_dir,
)

__all__ = [
    "DEFAULT_MODEL_SUBDIR",
    "EXIT_BAD_INPUT",
    "EXIT_FAILURE",
    "PIPELINE_ENTRY",
    "PIPELINE_FILES",
    "PIPELINE_TASK",
    "REMOTE_CODE_FORBIDDEN",
    "SELF_NAMES",
    "SPACE_DEFAULTS",
    "SPACE_SDK_PACKAGES",
    "VENDORED_PACKAGES",
    "VENDOR_IGNORE",
    "HubExportError",
    "PushResult",
    "add_push_arguments",
    "auto_map_entries",
    "build_parser",
    "check_metrics",
    "check_repo_id",
    "export_model_folder",
    "export_space_folder",
    "folder_files",
    "hub_offline",
    "load_json_arg",
    "main",
    "missing_package_requirements",
    "package_requirements",
    "prepare_output_dir",
    "push_to_hub",
    "repo_root",
    "run_push_command",
    "save_pipeline_code",
    "space_readme",
    "space_requirements",
    "spaces_app_dir",
    "verify_remote_code",
    "write_model_card",
]

EXIT_BAD_INPUT = 2
EXIT_FAILURE = 1


@dataclass
class PushResult:
    repo_id: str
    repo_type: str
    folder: Path | None = None  # the dry-run folder
    commit_url: str | None = None
    pinned_revision: str | None = None



# ------------------------------------------------------------------------------------------------- push


def push_to_hub(
    model_dir,
    repo_id: str,
    private: bool = False,
    revision: str | None = None,
    commit_message: str | None = None,
    token: str | None = None,
    dry_run=None,
    space: bool = False,
    metrics=None,
    summary=None,
    model_repo_id: str | None = None,
    pin_revision: bool = True,
    overwrite: bool = False,
) -> PushResult:
    """Export `model_dir` and upload exactly that folder to `repo_id` (a model repository, or a Gradio Space with
    space=True). dry_run=DIR: only write DIR (what would be uploaded) and return. revision: branch to push to
    (created from main if missing). Needs network access and a token (token=, HF_TOKEN or `hf auth login`)."""
    check_repo_id(repo_id)
    repo_type = "space" if space else "model"
    metrics = load_json_arg(metrics, "metrics", "metrics.json")
    summary = load_json_arg(summary, "summary", "summary.json")
    check_metrics(metrics)

    def export(folder):
        if space:
            return export_space_folder(model_dir, folder, metrics, summary, repo_id=repo_id,
                                       model_repo_id=model_repo_id, overwrite=overwrite)
        return export_model_folder(model_dir, folder, metrics, summary, repo_id=repo_id, overwrite=overwrite)

    if dry_run is not None:
        return PushResult(repo_id=repo_id, repo_type=repo_type, folder=export(dry_run))
    if hub_offline():
        raise HubExportError("HF_HUB_OFFLINE is set: cannot push to the Hub (unset it, or use --dry-run DIR)")
    if not Path(model_dir).is_dir():
        raise HubExportError(f"model folder not found: {model_dir}")

    from huggingface_hub import HfApi

    api = HfApi(token=token)
    message = commit_message or (f"Upload Delocate Space ({Path(model_dir).name})" if space
                                 else f"Upload Delocate detector ({Path(model_dir).name})")
    with tempfile.TemporaryDirectory(prefix="delocate-push-") as tmp:
        folder = export(Path(tmp) / "export")
        api.create_repo(repo_id, private=private, repo_type=repo_type, exist_ok=True,
                        space_sdk="gradio" if space else None)
        if revision:
            api.create_branch(repo_id, branch=revision, repo_type=repo_type, exist_ok=True)
        info = api.upload_folder(repo_id=repo_id, folder_path=folder, repo_type=repo_type, revision=revision,
                                 commit_message=message, delete_patterns="*")
        result = PushResult(repo_id=repo_id, repo_type=repo_type, commit_url=getattr(info, "commit_url", None))
        commit = getattr(info, "oid", None)
        if pin_revision and not space and commit:
            write_model_card(folder, metrics=metrics, summary=summary, repo_id=repo_id, revision=commit)
            api.upload_file(path_or_fileobj=str(folder / "README.md"), path_in_repo="README.md", repo_id=repo_id,
                            repo_type=repo_type, revision=revision,
                            commit_message=f"Model card: pin revision {commit[:12]} in the usage snippets")
            result.pinned_revision = commit
    return result


# -------------------------------------------------------------------------------------------------- CLI


def add_push_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("model_dir", type=Path, help="Delocate checkpoint folder (e.g. the assemble.py output)")
    parser.add_argument("--repo-id", required=True,
                        help="Hub repository id, namespace/name (the Space id with --space)")
    parser.add_argument("--dry-run", type=Path, default=None, metavar="DIR",
                        help="write the folder that would be uploaded to DIR and stop (no network)")
    parser.add_argument("--space", action="store_true", help="prepare/push the Gradio Space instead of the model repo")
    parser.add_argument("--private", action="store_true", help="create the repository as private")
    parser.add_argument("--metrics", default=None, metavar="metrics.json",
                        help="evaluate.py metrics.json (or its folder): model-index + evaluation table "
                             "(default: MODEL_DIR/metrics.json when present)")
    parser.add_argument("--summary", default=None, metavar="summary.json",
                        help="training summary JSON for the card (training data / procedure)")
    parser.add_argument("--revision", default=None, metavar="BRANCH", help="branch to push to (default: main)")
    parser.add_argument("--commit-message", default=None)
    parser.add_argument("--model-repo-id", default=None, help="with --space: the model repository the Space links to")
    parser.add_argument("--token", default=None, help="Hub token (default: HF_TOKEN or the `hf auth login` token)")
    parser.add_argument("--no-pin-revision", dest="pin_revision", action="store_false",
                        help="do not pin the pushed commit in the model card's snippets (second commit)")
    parser.add_argument("--overwrite", action="store_true", help="empty a non-empty --dry-run DIR first")
    parser.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show full tracebacks")
    return parser


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text[:400]


def run_push_command(args) -> int:
    """Runs `delocate push`; failures print one line on stderr (traceback with --debug)."""
    debug = getattr(args, "debug", False)
    try:
        result = push_to_hub(args.model_dir, args.repo_id, private=args.private, revision=args.revision,
                             commit_message=args.commit_message, token=args.token, dry_run=args.dry_run,
                             space=args.space, metrics=args.metrics, summary=args.summary,
                             model_repo_id=args.model_repo_id, pin_revision=args.pin_revision,
                             overwrite=args.overwrite)
    except HubExportError as error:
        if debug:
            raise
        print(f"delocate push: error: {_one_line(error)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("delocate push: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # Hub / network / auth errors: one line, the traceback only with --debug
        if debug:
            raise
        print(f"delocate push: error: {type(error).__name__}: {_one_line(error)}", file=sys.stderr)
        return EXIT_FAILURE
    kind = "Space" if args.space else "model"
    if result.folder is not None:
        files = folder_files(result.folder)
        size = sum((result.folder / name).stat().st_size for name in files)
        print(f"dry run: wrote the {kind} folder for {result.repo_id} to {result.folder} "
              f"({len(files)} files, {size / 1e6:.1f} MB); nothing was uploaded")
    else:
        print(f"pushed the {kind} to {result.repo_id}: {result.commit_url or ''}".rstrip(": "))
        if result.pinned_revision:
            print(f"model card pins revision {result.pinned_revision}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="push_to_hub", description="Export a Delocate checkpoint and push it to "
                                     "the Hugging Face Hub (model repository or Gradio Space)")
    return add_push_arguments(parser)


def main(argv: list[str] | None = None) -> int:
    return run_push_command(build_parser().parse_args(argv))
