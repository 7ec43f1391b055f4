"""Entry point: `python scripts/calibrate.py --model DIR --scores scores.json` (logic in
delocate_hf/training/calibrate.py): the detector's decision threshold, inconclusive band and held-out AUC, written
into DIR/config.json."""

import sys

from delocate_hf.training.calibrate import main

if __name__ == "__main__":
    sys.exit(main())
