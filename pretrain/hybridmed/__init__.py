"""HybridMED (arXiv 2410.00448): the impression aligned with the global image feature, the
findings with the image's regions word by word, and an impression decoder with two branches —
captioning (image → impression) and summarisation (findings → impression) — that share their
self-attention and feed-forward layers, the summarisation branch distilled into captioning.

One job per module: `decoder` (the shared two-branch decoder), `vocab_loss` (vocabulary
cross-entropy and distillation in bounded memory), `decoding` (greedy and beam search),
`sections` (which records each term can use), `terms` (the five loss terms), `schedule` (the
two stages as data), `generation_metrics` (BLEU, ROUGE-L) and `text_labels` (finding labels of a
generated impression, for the clinical-accuracy figure). Design choices: docs/hybridmed.md.
"""
