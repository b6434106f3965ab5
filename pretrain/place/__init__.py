"""PLACE (Wang et al. 2025, arXiv 2506.10573): pathology-level alignment and correlation exploration.

The pieces, each a module with one job (the formulation and every choice in docs/place.md):

- `observations`: a report's textual pathology observations (T-PORs) — its sentences, from the
  engine's `ParsedReport` — tokenised for one batched text-encoder call;
- `vpoe`: the Visual Pathology Observation Extractor — learnable queries cross-attending over the
  image's local tokens, giving visual observations (V-PORs) and their attention maps;
- `pcma`: pathology-level cross-modal alignment — entropic optimal transport matches V-PORs to
  T-PORs within each pair, and the matched pairs are contrasted against the batch;
- `correlation`: the correlation-exploration proxy task — predict the image's patch–patch
  correlations from the report and patch positions alone;
- `decoder`, `positions`: the query decoder and the 2-D position codes both heads share;
- `terms`: the two loss terms `pcma` and `cce` (registered with the trainer's; imported by
  `pretrain.train.terms`, not here, so that this package does not import the trainer).
"""

from pretrain.place.correlation import CorrelationPredictor, correlation_loss, correlation_target
from pretrain.place.observations import (
    NegationRule,
    Observation,
    gather_observations,
    split_observations,
    tokenize_observations,
)
from pretrain.place.pcma import matched_visual, observation_plan, pcma_loss
from pretrain.place.vpoe import VisualObservationExtractor, VisualObservations

__all__ = [
    "CorrelationPredictor",
    "NegationRule",
    "Observation",
    "VisualObservationExtractor",
    "VisualObservations",
    "correlation_loss",
    "correlation_target",
    "gather_observations",
    "matched_visual",
    "observation_plan",
    "pcma_loss",
    "split_observations",
    "tokenize_observations",
]
