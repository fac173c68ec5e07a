"""Training: the loop, optimizers and schedules, checkpoints, and scale-out across processes."""
