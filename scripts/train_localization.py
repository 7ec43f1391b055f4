"""Entry point: `accelerate launch scripts/train_localization.py --help` (logic in delocate_hf/training/train_localization.py)."""

from delocate_hf.training.train_localization import main

if __name__ == "__main__":
    main()
