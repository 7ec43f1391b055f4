"""Entry point: `accelerate launch scripts/assemble.py --help` (logic in delocate_hf/training/assemble.py)."""

from delocate_hf.training.assemble import main

if __name__ == "__main__":
    main()
