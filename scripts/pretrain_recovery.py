"""Entry point: `accelerate launch scripts/pretrain_recovery.py --help` (logic in delocate_hf/training/pretrain_recovery.py)."""

from delocate_hf.training.pretrain_recovery import main

if __name__ == "__main__":
    main()
