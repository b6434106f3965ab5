"""Evaluation of image–report models: does a model see what a report says, not only its words?

Submodules, each with one job: `semantic` (original vs perturbed reports), `retrieval`
(Recall@k), `labels` + `classification` (MeSH-derived labels, zero-shot and linear-probe AUROC),
`nli` (text-encoder fine-tuning on NLI), `encode` and `runner` (a checkpoint over a manifest),
`summary` (headline metrics over seeds), `explain` (word→region heatmaps), `plots`, `io`.
Importing this package imports neither torch nor transformers.
"""
