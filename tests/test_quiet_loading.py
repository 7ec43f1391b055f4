"""What a training run prints: the expected stage-1 -> classifier load report of transformers in one line, no
per-load "Loading weights" / "Writing model shards" bars (all of it back under --debug / DELOCATE_DEBUG=1), and
a resume that says which checkpoint and step it resumed from. Real stages on a tiny config, real video faces."""

import logging

import numpy as np
import pytest
import torch

from delocate_hf.training import assemble, finetune_classifier, pretrain_recovery
from delocate_hf.utils.quiet import LOAD_REPORT_LOGGER, QUIET_BARS, is_quiet, quiet_loading, summarize_load_report
from modeling import DelocateConfig, DelocateForForgeryLocalization, DelocateForVideoClassification
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


def test_stage1b_load_report_is_one_line_and_bars_are_off(stage1, face_clip_cache, tmp_path, load_log, capsys,
                                                          monkeypatch):
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
    reports = [m for m in load_log if stage1["model_dir"] in m]
    assert reports == [f"DelocateForVideoClassification from {stage1['model_dir']}: {unused} checkpoint weights "
                       f"not used, {fresh} newly initialised (full load report: --debug or DELOCATE_DEBUG=1)"]
    assert not [m for m in load_log if "LOAD REPORT" in m]
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
    # the summary of that very report is the one line quiet mode prints
    unused, fresh = expected_counts(stage1["model_dir"])
    assert f": {unused} checkpoint weights not used, {fresh} newly initialised" in summarize_load_report(report)


def test_summary_only_for_unexpected_and_missing_reports():
    assert summarize_load_report("Some other warning") is None
    report = ("\x1b[1mM LOAD REPORT\x1b[0m from: /x\nKey | Status     | \n----+------------+-\n"
              "a.weight | MISMATCH | Reinit due to size mismatch\n")
    assert summarize_load_report(report) is None  # a size mismatch is shown whole


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
