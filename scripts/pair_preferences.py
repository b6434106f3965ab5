"""What a model's 2×2 answers are made of: per counterfactual pair, which report each image
prefers (its own, both the same one, or swapped), which image each report prefers, and whether
the interaction (s(A,a) + s(B,b)) − (s(A,b) + s(B,a)) has the right sign (chance 50 %).

A text score near 0 with "both the same" near 100 % means the similarity behaves like
f(report) + g(image): both images follow the report term. Usage (from the repository root):

    OMP_NUM_THREADS=1 python scripts/pair_preferences.py PAIRS RUN [RUN ...]
"""

from __future__ import annotations

import sys
from collections import Counter

import numpy as np

from pretrain.data.pairs import image_path, read_pairs
from pretrain.evaluation.encode import encode_image_files, text_embedder
from pretrain.train.checkpoint import load_for_eval


def _outcome(first: bool, second: bool) -> str:
    """Both halves prefer their own partner, the other's, or one and the same (a tie is not own)."""
    return {(True, True): "own", (False, False): "swapped"}.get((first, second), "both the same")


def preferences(run: str, pairs_file: str) -> dict[str, object]:
    pairs, _ = read_pairs(pairs_file)
    model, tokenizer, config = load_for_eval(run)
    images = list(dict.fromkeys(n for p in pairs for n in (p.image_a, p.image_b)))
    texts = list(dict.fromkeys(t for p in pairs for t in (p.text_a, p.text_b)))
    image_rows = encode_image_files(model, [image_path(pairs_file, n) for n in images],
                                    image_size=config.image_size, channels=config.channels)
    text_rows = text_embedder(model, tokenizer, max_length=config.max_length)(texts)
    similarity = image_rows @ text_rows.T
    at_image = {n: i for i, n in enumerate(images)}
    at_text = {t: i for i, t in enumerate(texts)}
    by_image, by_report, interaction = Counter(), Counter(), []
    for p in pairs:
        a, b = at_image[p.image_a], at_image[p.image_b]
        aa, ab = similarity[a, at_text[p.text_a]], similarity[a, at_text[p.text_b]]
        ba, bb = similarity[b, at_text[p.text_a]], similarity[b, at_text[p.text_b]]
        by_image[_outcome(aa > ab, bb > ba)] += 1
        by_report[_outcome(aa > ba, bb > ab)] += 1
        interaction.append((aa + bb) - (ab + ba))
    n = len(pairs)
    return {"pairs": n,
            "images prefer": {k: round(v / n, 3) for k, v in sorted(by_image.items())},
            "reports prefer": {k: round(v / n, 3) for k, v in sorted(by_report.items())},
            "interaction > 0": round(float((np.array(interaction) > 0).mean()), 3)}


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    for run in argv[1:]:
        print(run, preferences(run, argv[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
