"""Methods: which weights train and what each method's objective is (SFT, DPO, GRPO, …)."""
