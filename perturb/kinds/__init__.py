"""The built-in perturbations, one file per family, registered on import in this order.

- `order`: shuffle_all_words, swap_adjacent_words, reverse_sentence, shuffle_within_trigrams,
  shuffle_trigrams;
- `pos`: shuffle_nouns_and_adj, shuffle_allbut_nouns_and_adj, shuffle_nouns_verbs_adj;
- `substitution`: replace_adjectives_with_antonyms (its lexicon: `antonyms`) — with the two
  above, the paper's nine (the kind set "paper");
- `clinical`: swap_laterality, flip_negation, swap_severity, swap_location (the kind set
  "clinical"; their knowledge of findings is the package `perturb.clinical`).

In each file a kind is written first as its reference, a plain `(report, rng, scope)` function
over the report's word groups, with the invariant it keeps beyond the generic ones; its batch
kernel, where it has one, stands beneath it and must give the same results (`perturb.testing`).
"""

from perturb.kinds import order, pos, substitution  # noqa: F401  (registers the paper's nine, in its order)
from perturb.registry import PERTURBATIONS, register_set

#: The nine perturbations of the paper, in its order.
PAPER_KINDS = tuple(PERTURBATIONS)
register_set("paper", PAPER_KINDS)

from perturb.kinds.clinical import CLINICAL_KINDS  # noqa: E402  (registers the four clinical edits after them)

__all__ = ["CLINICAL_KINDS", "PAPER_KINDS"]
