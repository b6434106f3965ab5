"""The built-in perturbations, one file per family, registered in the paper's order on import.

- `order`: shuffle_all_words, swap_adjacent_words, reverse_sentence, shuffle_within_trigrams,
  shuffle_trigrams;
- `pos`: shuffle_nouns_and_adj, shuffle_allbut_nouns_and_adj, shuffle_nouns_verbs_adj;
- `substitution`: replace_adjectives_with_antonyms (its lexicon: `antonyms`).

In each file a kind is written first as its reference, a plain `(report, rng, scope)` function
over the report's word groups, with the invariant it keeps beyond the generic ones; its batch
kernel stands beneath it and must give the same results (`perturb.testing`).
"""

from perturb.kinds import order, pos, substitution  # noqa: F401  (registers the kinds, in this order)
