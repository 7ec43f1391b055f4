"""Export a Delocate checkpoint (model + processor + remote code + model card) and push it to the Hub.

Same arguments as `delocate push`:

    python scripts/push_to_hub.py outputs/detector --repo-id org/delocate --metrics outputs/eval/metrics.json
    python scripts/push_to_hub.py outputs/detector --repo-id org/delocate --dry-run outputs/hub   # write only
    python scripts/push_to_hub.py outputs/detector --repo-id org/delocate-demo --space            # Gradio Space
"""

import sys

from delocate_hf.hub.export import main

if __name__ == "__main__":
    sys.exit(main())
