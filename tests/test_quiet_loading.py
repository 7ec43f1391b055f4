"""What a training run prints: nothing of the expected stage-1 -> classifier load report of transformers, but every
row of a report that the two architectures do not explain; no per-load "Loading weights" / "Writing model
shards" bars (all of it back under --debug / DELOCATE_DEBUG=1 / transformers' info verbosity), and a resume that
says which checkpoint and step it resumed from. Real stages on a tiny config, real video faces."""

import json
import logging
import re
import shutil

import numpy as np
import pytest
import torch

from delocate_hf.training import assemble, finetune_classifier, pretrain_recovery
from delocate_hf.utils.quiet import (
    LOAD_REPORT_LOGGER, MODEL_PARTS, QUIET_BARS, is_quiet, quiet_load_report, quiet_loading,
)
from modeling import (
    DelocateConfig, DelocateForDeepfakeDetection, DelocateForForgeryLocalization, DelocateForMaskedRecovery,
    DelocateForVideoClassification,
)
from processing import DelocateFaceProcessor, read_video

from conftest import save_clip_rows

FRAMES, SIZE = 4, 64


class Records(logging.Handler):
    """The records of transformers' model-loading logger, as its own handler would print them."""

    def __init__(self):
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record):
        self.messages.append(record.getMessage())


@pytest.fixture(autouse=True)
def transformers_output_as_in_a_fresh_process():
    """transformers' default output (warnings, progress bars on), as a training process starts with: other tests'
    in-process CLI runs turn both off for the whole pytest process (`delocate detect` does)."""
    from huggingface_hub import utils as hub_utils
    from transformers.utils import logging as hf_logging

    verbosity, bars, hub_bars_off = (hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled(),
                                     hub_utils.are_progress_bars_disabled())
    hf_logging.set_verbosity_warning()
    hf_logging.enable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if not bars:
            hf_logging.disable_progress_bar()
        if hub_bars_off:
            hub_utils.disable_progress_bars()
        else:
            hub_utils.enable_progress_bars()


@pytest.fixture
def load_log():
    handler, logger = Records(), logging.getLogger(LOAD_REPORT_LOGGER)
    logger.addHandler(handler)
    try:
        yield handler.messages
    finally:
        logger.removeHandler(handler)


@pytest.fixture(scope="module")
def face_clip_cache(tmp_path_factory, carphone):
    """4 clips of the real carphone video: 2 real windows and the same windows with the lips brightened (fake)."""
    processor = DelocateFaceProcessor(num_frames=FRAMES, size=SIZE)
    frames = read_video(carphone, sampling="all").frames
    rows = []
    for window in range(2):
        out = processor(frames[window * 24: window * 24 + 16: 4], return_faces=True, return_tensors="np")
        faces, boxes = out["faces"][0], out["roi_boxes"][0]
        fake, masks = faces.astype(np.float32).copy(), np.zeros(faces.shape[:3], np.uint8)
        for t, box in enumerate(boxes[:, 2]):
            x0, y0, x1, y1 = np.round(box).astype(int)
            fake[t, y0:y1, x0:x1] = fake[t, y0:y1, x0:x1] * 0.6 + 255 * 0.4
            masks[t, y0:y1, x0:x1] = 255
        base = {"roi_boxes": boxes.astype(np.float32), "video_id": f"carphone_{window}"}
        rows.append({**base, "faces": faces, "masks": np.zeros_like(masks), "label": 0, "manipulation": "real"})
        rows.append({**base, "faces": fake.clip(0, 255).astype(np.uint8), "masks": masks, "label": 1,
                     "manipulation": "LipBlend"})
    return save_clip_rows(rows, tmp_path_factory.mktemp("quiet_cache") / "clips", FRAMES, SIZE)


def common(cache, out, steps, *extra):
    return ["--train_data", str(cache), "--output_dir", str(out), "--model_config", "tiny",
            "--per_device_train_batch_size", "2", "--max_train_steps", str(steps), "--seed", "0", *extra]


@pytest.fixture(scope="module")
def stage1(face_clip_cache, tmp_path_factory):
    out = tmp_path_factory.mktemp("quiet_stage1")
    return pretrain_recovery.main(common(face_clip_cache, out, 2, "--checkpointing_steps", "1"))


def test_resume_says_which_checkpoint_and_step(stage1, face_clip_cache, capsys):
    out = stage1["model_dir"].rsplit("/final", 1)[0]
    capsys.readouterr()
    resumed = pretrain_recovery.main(common(face_clip_cache, out, 3, "--checkpointing_steps", "1",
                                            "--resume_from_checkpoint", "latest"))
    assert resumed["step"] == 3
    assert f"resumed from {out}/checkpoints/step_2 at step 2\n" in capsys.readouterr().out


def test_resume_latest_without_checkpoints_says_it_starts_at_zero(face_clip_cache, tmp_path, capsys):
    result = pretrain_recovery.main(common(face_clip_cache, tmp_path, 1, "--resume_from_checkpoint", "latest"))
    assert result["step"] == 1
    assert f"no checkpoint to resume from in {tmp_path}/checkpoints: starting at step 0\n" in capsys.readouterr().out


def expected_counts(stage1_dir) -> tuple[int, int]:
    """(checkpoint keys the classifier does not use, classifier weights the checkpoint lacks), as transformers'
    own loading info has them."""
    _, info = DelocateForVideoClassification.from_pretrained(stage1_dir, output_loading_info=True)
    assert not [k for k in info["unexpected_keys"] if k.startswith("videomae.")]  # the decoder is what goes
    assert all(k.startswith(("classifier.", "fc_norm.")) for k in info["missing_keys"])  # the head is what is new
    return len(info["unexpected_keys"]), len(info["missing_keys"])


def test_stage1b_expected_load_report_is_silent_and_bars_are_off(stage1, face_clip_cache, tmp_path, load_log,
                                                                   capsys, monkeypatch):
    monkeypatch.delenv("DELOCATE_DEBUG", raising=False)
    monkeypatch.delenv("TRANSFORMERS_VERBOSITY", raising=False)
    unused, fresh = expected_counts(stage1["model_dir"])
    assert unused > 0 and fresh > 0  # the stage-1 -> classifier load does differ
    load_log.clear()
    capsys.readouterr()
    result = finetune_classifier.main(common(face_clip_cache, tmp_path / "cls", 1,
                                             "--recovery_checkpoint", stage1["model_dir"]))
    assert result["step"] == 1
    err = capsys.readouterr().err
    assert [m for m in load_log if stage1["model_dir"] in m or "LOAD REPORT" in m] == []
    assert "LOAD REPORT" not in err and "UNEXPECTED" not in err and "MISSING" not in err
    for bar in QUIET_BARS:
        assert bar not in err
    assert "stage 1b classifier" in err  # the training bar itself is kept


def test_debug_environment_keeps_the_full_report_and_bars(stage1, face_clip_cache, tmp_path, load_log, capsys,
                                                          monkeypatch):
    monkeypatch.setenv("DELOCATE_DEBUG", "1")
    capsys.readouterr()
    finetune_classifier.main(common(face_clip_cache, tmp_path / "cls", 1, "--recovery_checkpoint", stage1["model_dir"]))
    err = capsys.readouterr().err
    (report,) = [m for m in load_log if "LOAD REPORT" in m]
    assert stage1["model_dir"] in report and "UNEXPECTED" in report and "MISSING" in report
    assert "Loading weights" in err and "Writing model shards" in err
    # every row of that very report is one quiet mode leaves out
    assert quiet_load_report(report) is None


def full_report(checkpoint, model_class=DelocateForVideoClassification, **kwargs) -> str:
    """transformers' whole LOAD REPORT of loading `checkpoint` into `model_class` (quiet mode off)."""
    handler, logger = Records(), logging.getLogger(LOAD_REPORT_LOGGER)
    logger.addHandler(handler)
    try:
        with quiet_loading(debug=True):
            model_class.from_pretrained(checkpoint, **kwargs)
    finally:
        logger.removeHandler(handler)
    (report,) = [m for m in handler.messages if "LOAD REPORT" in m]
    return report


def report_rows(report: str) -> list[str]:
    """The key rows of a LOAD REPORT table."""
    return [line for line in report.splitlines() if re.match(r"^\S[^|]*\|\s*(UNEXPECTED|MISSING|MISMATCH)\s*\|", line)]


def test_a_key_the_architectures_do_not_explain_is_still_shown(stage1, tmp_path, load_log, monkeypatch):
    """A stage-1 checkpoint that lacks one encoder weight, loaded into the classifier in quiet mode: the report
    is printed with that MISSING row and none of the expected ones (decoder UNEXPECTED, head MISSING), and says how
    many it left out."""
    from safetensors.torch import load_file, save_file

    monkeypatch.delenv("DELOCATE_DEBUG", raising=False)
    monkeypatch.delenv("TRANSFORMERS_VERBOSITY", raising=False)
    broken = tmp_path / "stage1_broken"
    shutil.copytree(stage1["model_dir"], broken)
    weights = load_file(broken / "model.safetensors")
    lost = "videomae.embeddings.patch_embeddings.projection.bias"
    del weights[lost]
    save_file(weights, broken / "model.safetensors", metadata={"format": "pt"})
    expected_rows = len(report_rows(full_report(stage1["model_dir"])))
    whole = full_report(broken)
    assert len(report_rows(whole)) == expected_rows + 1  # the transformers report of it: one row more

    load_log.clear()
    with quiet_loading():
        DelocateForVideoClassification.from_pretrained(broken)
    (shown,) = [m for m in load_log if str(broken) in m]
    assert shown.splitlines()[0] == whole.splitlines()[0]  # "<Class> LOAD REPORT from: <path>"
    (row,) = report_rows(shown)
    assert row.startswith(lost) and "| MISSING" in row
    assert "UNEXPECTED" not in shown  # neither a row nor its note: all of them were expected
    assert "- MISSING:" in shown  # the note of the row that is shown
    assert shown.splitlines()[-1] == (
        f"({expected_rows} expected rows of a DelocateForMaskedRecovery checkpoint loaded into "
        f"DelocateForVideoClassification not shown; full load report: --debug or DELOCATE_DEBUG=1)")


def test_a_checkpoint_of_no_known_head_keeps_its_whole_report(stage1, tmp_path, load_log, monkeypatch):
    """Without `architectures` in its config.json, nothing says which rows to expect: the report is shown whole."""
    monkeypatch.delenv("DELOCATE_DEBUG", raising=False)
    monkeypatch.delenv("TRANSFORMERS_VERBOSITY", raising=False)
    anonymous = tmp_path / "stage1_anonymous"
    shutil.copytree(stage1["model_dir"], anonymous)
    config = json.loads((anonymous / "config.json").read_text())
    del config["architectures"]
    (anonymous / "config.json").write_text(json.dumps(config))
    whole = full_report(anonymous)
    load_log.clear()
    with quiet_loading():
        DelocateForVideoClassification.from_pretrained(anonymous)
    assert [m for m in load_log if "LOAD REPORT" in m] == [whole]


def test_a_size_mismatch_is_shown_without_the_expected_rows(stage1, tmp_path):
    """transformers' own report of a stage-1 -> classifier load with a MISMATCH row too (its log function, a real
    classifier): quiet mode keeps the MISMATCH row and its note, and only that."""
    from transformers.utils.loading_report import LoadStateDictInfo, log_state_dict_report

    info = LoadStateDictInfo(missing_keys={"classifier.weight", "classifier.bias"},
                             unexpected_keys={"decoder.norm.weight", "mask_token", "encoder_to_decoder.weight"},
                             mismatched_keys={("videomae.embeddings.patch_embeddings.projection.weight",
                                               (32, 3, 2, 16, 16), (32, 3, 2, 8, 8))},
                             error_msgs=[], conversion_errors={}, skipped_pp_keys=set())
    logger, handler = logging.getLogger("delocate.test.report"), Records()
    logger.addHandler(handler)
    try:
        log_state_dict_report(DelocateForVideoClassification(DelocateConfig.tiny()), stage1["model_dir"], True,
                              info, logger=logger)
    finally:
        logger.removeHandler(handler)
    (report,) = handler.messages
    shown = quiet_load_report(report).splitlines()
    assert shown[0] == report.splitlines()[0]
    rows = report_rows("\n".join(shown))
    assert len(rows) == 1 and rows[0].startswith("videomae.embeddings.patch_embeddings.projection.weight")
    assert "MISMATCH" in rows[0] and "UNEXPECTED" not in "\n".join(shown) and "- MISSING" not in "\n".join(shown)
    assert "- MISMATCH:" in "\n".join(shown)
    assert shown[-1].startswith("(5 expected rows of a DelocateForMaskedRecovery checkpoint loaded into ")
    assert quiet_load_report("Some other warning") == "Some other warning"


def test_model_parts_are_the_heads_state_dict_parts():
    """`MODEL_PARTS`, which says which rows of a report between two heads are expected, names each head's parts."""
    config = DelocateConfig.tiny(detector_include_recovery=True)
    for cls in (DelocateForMaskedRecovery, DelocateForVideoClassification, DelocateForForgeryLocalization,
                DelocateForDeepfakeDetection):
        assert {key.split(".")[0] for key in cls(config).state_dict()} == MODEL_PARTS[cls.__name__], cls.__name__


def _save_stages(folder):
    torch.manual_seed(0)
    DelocateForVideoClassification(DelocateConfig.tiny()).save_pretrained(folder / "cls")
    DelocateForForgeryLocalization(DelocateConfig.tiny()).save_pretrained(folder / "loc")
    return ["--classifier", str(folder / "cls"), "--localizer", str(folder / "loc")]


def test_assemble_is_quiet_and_debug_shows_the_bars(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("DELOCATE_DEBUG", raising=False)
    monkeypatch.delenv("TRANSFORMERS_VERBOSITY", raising=False)
    stages = _save_stages(tmp_path)
    capsys.readouterr()
    folder = assemble.main([*stages, "--output_dir", str(tmp_path / "detector")])
    captured = capsys.readouterr()
    assert captured.out == f"detector -> {folder}\n"
    for bar in QUIET_BARS:
        assert bar not in captured.err
    assert (folder / "model.safetensors").is_file()
    assemble.main([*stages, "--output_dir", str(tmp_path / "detector_debug"), "--debug"])
    err = capsys.readouterr().err
    assert "Loading weights" in err and "Writing model shards" in err


def test_quiet_block_is_scoped(tmp_path, capsys, monkeypatch):
    """Inside `quiet_loading()` bars are off; `quiet_loading(debug=True)` turns them on inside an outer quiet block."""
    monkeypatch.delenv("DELOCATE_DEBUG", raising=False)
    monkeypatch.delenv("TRANSFORMERS_VERBOSITY", raising=False)
    DelocateForVideoClassification(DelocateConfig.tiny()).save_pretrained(tmp_path / "cls")
    with quiet_loading() as quiet:
        assert quiet and is_quiet()
        DelocateForVideoClassification.from_pretrained(tmp_path / "cls")
        assert "Loading weights" not in capsys.readouterr().err
        with quiet_loading(debug=True) as inner:
            assert not inner
            DelocateForVideoClassification.from_pretrained(tmp_path / "cls")
            assert "Loading weights" in capsys.readouterr().err
        assert is_quiet()
    monkeypatch.setenv("DELOCATE_DEBUG", "1")
    with quiet_loading() as quiet:
        assert not quiet
    monkeypatch.delenv("DELOCATE_DEBUG")
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_info()  # transformers' own switch (the fixture restores the verbosity)
    with quiet_loading() as quiet:
        assert not quiet
        DelocateForVideoClassification.from_pretrained(tmp_path / "cls")
        assert "Loading weights" in capsys.readouterr().err
