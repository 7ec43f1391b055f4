"""Entry point: `accelerate launch scripts/evaluate.py --help` (logic in delocate_hf/training/evaluate.py)."""

from delocate_hf.training.evaluate import main

if __name__ == "__main__":
    main()
