"""Hugging Face Hub export: model card, self-contained model folder (remote code), Gradio Space folder, push.

```python
from delocate_hf.hub import export_model_folder, push_to_hub

export_model_folder("outputs/detector", "outputs/hub", metrics="outputs/eval/metrics.json", repo_id="org/delocate")
push_to_hub("outputs/detector", "org/delocate", metrics="outputs/eval/metrics.json")          # model repository
push_to_hub("outputs/detector", "org/delocate-demo", space=True, dry_run="outputs/space")    # Space folder only
```

Command line: `delocate push MODEL_DIR --repo-id org/name [--dry-run DIR] [--space] [--private] [--metrics FILE]`
(or `python scripts/push_to_hub.py ...` with the same arguments).
"""

from .export import (
    HubExportError,
    PushResult,
    export_model_folder,
    export_space_folder,
    push_to_hub,
    save_pipeline_code,
    verify_remote_code,
)
from .model_card import build_model_card, eval_results, parse_card_metadata

__all__ = [
    "HubExportError",
    "PushResult",
    "build_model_card",
    "eval_results",
    "export_model_folder",
    "export_space_folder",
    "parse_card_metadata",
    "push_to_hub",
    "save_pipeline_code",
    "verify_remote_code",
]
