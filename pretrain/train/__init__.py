"""Pretraining: config, the batches (loader, collator), the objective and its step, the loop,
checkpoints, optimizer and torch.distributed."""
