"""Training: Accelerate loops for the three Delocate stages, MLDG meta-learning, evaluation."""
