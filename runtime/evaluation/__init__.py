"""Evaluation: metrics, generation, gates and guards, before, during and after training."""
