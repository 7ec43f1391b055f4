"""Entry point: `accelerate launch scripts/finetune_classifier.py --help` (logic in delocate_hf/training/finetune_classifier.py)."""

from delocate_hf.training.finetune_classifier import main

if __name__ == "__main__":
    main()
