"""Does scispacy's tokenizer change what the perturbations see on real reports?

Parses the Open-I reports twice with the same spaCy model — default tokenizer vs scispacy's
`combined_rule_tokenizer` — and counts reports whose tokens differ, and, where tokens agree, how
many coarse POS tags (which drive the POS-based perturbations) differ.

Usage: python benchmarks/scispacy_tags.py [--limit N] [--out F]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import perturb
from pretrain.data.openi import load_openi


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    texts = [r.text for r in load_openi() if r.text]
    if args.limit:
        texts = texts[: args.limit]
    plain = perturb.Parser()
    sci = perturb.Parser(scispacy_tokenizer=True)
    token_diff = pos_diff = tokens_compared = sentence_diff = 0
    examples: list[dict[str, list[str]]] = []
    for a, b in zip(plain.parse_many(texts), sci.parse_many(texts)):
        if a.tokens != b.tokens:
            token_diff += 1
            if len(examples) < 5:
                examples.append({"spacy": [t for t in a.tokens if t not in b.tokens][:6],
                                 "scispacy": [t for t in b.tokens if t not in a.tokens][:6]})
            continue
        tokens_compared += len(a.tokens)
        pos_diff += sum(x != y for x, y in zip(a.pos, b.pos))
        sentence_diff += a.sent_ids != b.sent_ids
    res = {
        "reports": len(texts),
        "reports_with_different_tokens": token_diff,
        "share_reports_different_tokens": token_diff / len(texts),
        "tokens_compared_where_tokenisation_agrees": tokens_compared,
        "pos_tags_changed": pos_diff,
        "share_pos_changed": pos_diff / max(tokens_compared, 1),
        "reports_with_changed_sentence_split": sentence_diff,
        "examples": examples,
    }
    print(json.dumps(res, indent=2))
    if args.out:
        args.out.write_text(json.dumps(res, indent=2) + "\n")


if __name__ == "__main__":
    main()
