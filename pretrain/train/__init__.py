"""Pretraining, in the order a run goes: `config` → `loader` and `collator` (the batches, with
negatives drawn afresh) → `terms` and `objective` (the weighted loss terms on the model) → `step`
(one optimizer step) → `loop` (`train`: the run, with `checkpoint`, `metrics`, `optim`, `stop`
and `distributed`)."""
