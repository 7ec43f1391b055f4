"""`make demo` / `delocate demo`: the main job on the embedded real video, stage by stage.

Today it shows what exists end to end on real video: face-ROI processing (aligned faces, facial-part boxes, the
ROI token mask, drawn to a PNG), the four Delocate models on a tiny config (forward pass on the processed real clip,
output shapes), and the parameter counts of the full-size (paper) configuration.
"""

import time
from pathlib import Path

import torch

from .assets import default_video_path


def _stage(number: int, title: str) -> float:
    print(f"\n[{number}] {title}", flush=True)
    return time.perf_counter()


def _done(start: float) -> None:
    print(f"    done in {time.perf_counter() - start:.1f}s", flush=True)


def count_parameters(module: torch.nn.Module | None) -> int:
    return 0 if module is None else sum(p.numel() for p in module.parameters())


def base_parameter_table() -> list[tuple[str, int]]:
    """Parameter counts of the paper-size models (VideoMAE-B encoder, 4-layer decoder, ResNet-18 mapping)."""
    from modeling import DelocateConfig, DelocateForDeepfakeDetection, DelocateForMaskedRecovery

    config = DelocateConfig()
    recovery = DelocateForMaskedRecovery(config)
    detector = DelocateForDeepfakeDetection(config)
    localizer = detector.localizer
    return [
        ("recovery encoder (VideoMAE-B)", count_parameters(recovery.videomae)),
        ("recovery decoder (4 layers, 384)", count_parameters(recovery.decoder) + count_parameters(recovery.encoder_to_decoder)
         + recovery.mask_token.numel()),
        ("DelocateForMaskedRecovery total", count_parameters(recovery)),
        ("mapping: ResNet-18 stem + 3 stages", count_parameters(localizer.mapping.backbone)),
        ("mapping convs + SE encoder + UNet-scSE decoder + head", count_parameters(localizer) - count_parameters(localizer.mapping.backbone)),
        ("DelocateForForgeryLocalization total", count_parameters(localizer)),
        ("DelocateForDeepfakeDetection total", count_parameters(detector)),
    ]


def run_demo(video: Path | None = None, output_dir: Path = Path("outputs/demo"), count_base_parameters: bool = True) -> dict:
    from modeling import (
        DelocateConfig,
        DelocateForDeepfakeDetection,
        DelocateForForgeryLocalization,
        DelocateForMaskedRecovery,
        DelocateForVideoClassification,
    )
    from processing import DelocateFaceProcessor
    from processing.visualize import save_roi_figure

    video = Path(video) if video is not None else default_video_path()
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    results: dict = {"video": str(video)}
    print(f"delocate demo on {video} (torch {torch.__version__}, {torch.get_num_threads()} threads)")

    start = _stage(1, "Face-ROI processing at paper size: 16 frames, 224 px faces, facial-part ROI token mask")
    processor = DelocateFaceProcessor(num_frames=16, size=224)
    batch = processor(str(video), return_bool_masked_pos=True, return_faces=True, seed=0)
    boxes = batch["roi_boxes"][0, 0].numpy()
    grid = 224 // processor.patch_size
    token_mask = batch["bool_masked_pos"][0].view(-1, grid, grid)[0].numpy()
    figure = output_dir / "roi_masking.png"
    save_roi_figure(figure, batch["faces"][0, 0].numpy(), boxes, token_mask)
    print(f"    frames used: {batch['frame_indices'][0].tolist()}")
    for name, box in zip(processor.parts, boxes):
        print(f"    {name:<10} box (crop px) = {[round(float(v), 1) for v in box]}")
    masked = int(batch["bool_masked_pos"][0].sum())
    print(f"    bool_masked_pos: {masked} of {batch['bool_masked_pos'].shape[1]} tokens masked; figure -> {figure}")
    results["roi_figure"] = str(figure)
    _done(start)

    start = _stage(2, "The four Delocate models, tiny config, forward pass on the same real clip (64 px, 4 frames)")
    config = DelocateConfig.tiny()
    tiny_processor = DelocateFaceProcessor(num_frames=config.num_frames, size=config.image_size)
    tiny = tiny_processor(str(video), return_bool_masked_pos=True, seed=0)
    pixel_values, mask = tiny["pixel_values"], tiny["bool_masked_pos"]
    recovery = DelocateForMaskedRecovery(config).eval()
    classifier = DelocateForVideoClassification.from_recovery(recovery).eval()
    localizer = DelocateForForgeryLocalization(config).eval()
    detector = DelocateForDeepfakeDetection.from_stages(classifier, localizer).eval()
    shapes = {}
    with torch.inference_mode():
        out = recovery(pixel_values, bool_masked_pos=mask)
        shapes["DelocateForMaskedRecovery"] = {"loss": (), "logits": out.logits.shape, "reconstruction": out.reconstruction.shape}
        out = classifier(pixel_values)
        shapes["DelocateForVideoClassification"] = {"logits": out.logits.shape}
        out = localizer(pixel_values)
        shapes["DelocateForForgeryLocalization"] = {
            "logits": out.logits.shape, "frame_logits": out.frame_logits.shape,
            "mask_logits": out.mask_logits.shape, "mapped_faces": out.mapped_faces.shape,
        }
        out = detector(pixel_values)
        shapes["DelocateForDeepfakeDetection"] = {
            "probabilities": out.probabilities.shape, "frame_scores": out.frame_scores.shape, "masks": out.masks.shape,
        }
        print(f"    input pixel_values {tuple(pixel_values.shape)}, bool_masked_pos {tuple(mask.shape)}")
        for name, fields in shapes.items():
            print(f"    {name}: " + ", ".join(f"{k} {tuple(v)}" for k, v in fields.items()))
        print(f"    untrained detector score (probability of fake): {out.probabilities.item():.3f} — meaningless until trained")
    results["shapes"] = {name: {k: list(v) for k, v in fields.items()} for name, fields in shapes.items()}
    _done(start)

    if count_base_parameters:
        start = _stage(3, "Parameter counts of the paper-size configuration")
        table = base_parameter_table()
        for name, count in table:
            print(f"    {name:<55} {count / 1e6:8.2f} M")
        print("    reference: VideoMAE-B encoder 86.2 M; ResNet-18 11.7 M in full, 2.8 M for its stem + first three stages")
        results["parameters"] = dict(table)
        _done(start)
    return results
