"""Formatting leaks of the negatives on the Open-I test reports: per kind, the share of applicable
negatives with more casing anomalies than their original, and with a word form found neither in
the original nor in the training split's reports (`perturb.leaks`). Targets (issue 11): each at
most 1 % for the word-order kinds, at most 5 % for antonyms; none at all for the clinical edits,
which write only the reports' own words (docs/clinical_edits.md).

The split is the project's hash split of report ids (`pretrain.data.splits`): the negatives come
from the test reports, the vocabulary from the training reports. Every lexicon pair of the antonym
lexicon is also counted against the training reports, and pairs with an unused member are listed.

Usage: python benchmarks/negative_leaks.py [--seed 0] [--scopes report,sentence] [--examples 3]
                                           [--out F]
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path

from rich.console import Console
from rich.table import Table

import perturb
from perturb.antonyms import LEXICON
from perturb.leaks import casing_anomalies, measure, more_casing_anomalies, new_forms, vocabulary, word_forms
from pretrain.data.openi import load_openi
from pretrain.data.splits import assign_split

ANTONYMS = "replace_adjectives_with_antonyms"
TARGETS = {"word order": 0.01, "antonyms": 0.05, "clinical": 0.0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--scopes", default="report,sentence", help="comma-separated scopes")
    ap.add_argument("--examples", type=int, default=3, help="leaking negatives to print per kind")
    ap.add_argument("--out", type=Path, default=None, help="write the figures as JSON here")
    ap.add_argument("--write-vocabulary", type=Path, default=None,
                    help="write the training reports' alphabetic word forms here (perturb/data/report_vocabulary.txt)")
    args = ap.parse_args()
    console = Console(width=120)  # kind names stay whole in logs

    reports = [r for r in load_openi() if r.text]
    test = [r for r in reports if assign_split(r.id) == "test"]
    train_texts = [r.text for r in reports if assign_split(r.id) == "train"]
    known = vocabulary(train_texts)
    if args.write_vocabulary:
        _write_vocabulary(args.write_vocabulary, known, len(train_texts))
    started = time.perf_counter()
    parsed = list(perturb.Parser().parse_many([r.text for r in test], batch_size=128))
    console.print(f"{len(test)} test reports parsed in {time.perf_counter() - started:.1f} s; "
                  f"{len(train_texts)} training reports give {len(known):,} word forms")
    originals = [p.text for p in parsed]
    odd = sum(any(casing_anomalies(text)) for text in originals)
    figures: dict[str, object] = {
        "seed": args.seed, "test_reports": len(test), "train_reports": len(train_texts),
        "originals_with_a_casing_anomaly": odd, "scopes": {},
    }

    for scope in args.scopes.split(","):
        rows = perturb.apply_batch(parsed, seed=args.seed, keys=[r.id for r in test], scope=scope)
        leaks = measure(originals, rows, known)
        table = Table(title=f"leaks of the negatives, {len(test)} Open-I test reports, seed {args.seed}, "
                            f"{scope} scope")
        for column in ("kind", "negatives", "more casing anomalies", "new word form", "target", "met"):
            table.add_column(column, justify="left" if column == "kind" else "right")
        per_kind, commonest = {}, []
        for kind in perturb.PERTURBATIONS:
            found = leaks.get(kind)
            if found is None:
                continue
            group = "antonyms" if kind == ANTONYMS else "clinical" if kind in perturb.CLINICAL_KINDS else "word order"
            target = TARGETS[group]
            casing, new = found.share(found.casing), found.share(found.new_form)
            met = casing <= target and new <= target
            table.add_row(kind, str(found.negatives), f"{100 * casing:.1f} %", f"{100 * new:.1f} %",
                          f"≤ {100 * target:.0f} %", "yes" if met else "no")
            if found.forms:
                forms = ", ".join(f"{form!r} {n}" for form, n in list(found.forms.items())[:8])
                commonest.append(f"  {kind}: {forms}")
            per_kind[kind] = {"negatives": found.negatives, "casing_share": casing, "new_form_share": new,
                              "target": target, "met": met, "new_forms": dict(list(found.forms.items())[:20])}
        console.print(table)
        if commonest:
            console.print("commonest new word forms:\n" + "\n".join(commonest), highlight=False, soft_wrap=True)
        figures["scopes"][scope] = per_kind  # type: ignore[index]
        if args.examples:
            _print_examples(console, originals, rows, known, args.examples)

    train_counts = Counter(form for text in train_texts for form in set(word_forms(text)))
    pairs = sorted({tuple(sorted((a, b))) for a, b in LEXICON.items()})
    unused = [(a, b, train_counts[a], train_counts[b]) for a, b in pairs if not (train_counts[a] and train_counts[b])]
    console.print(f"antonym lexicon: {len(pairs)} pairs; {len(unused)} with a member that no training "
                  f"report uses: " + ", ".join(f"{a} ({na}) / {b} ({nb})" for a, b, na, nb in unused))
    figures["lexicon_pairs"] = len(pairs)
    figures["lexicon_pairs_with_an_unused_member"] = [list(u) for u in unused]
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(figures, indent=2) + "\n")


def _write_vocabulary(path: Path, known: frozenset[str], n_reports: int) -> None:
    words = sorted(form for form in known if form.isalpha())
    header = (f"# The alphabetic word forms of the {n_reports:,} Open-I training-split reports, lower-cased,\n"
              "# one a line: the words a WordNet antonym may be (perturb.antonyms). Made by\n"
              "# `python benchmarks/negative_leaks.py --write-vocabulary perturb/data/report_vocabulary.txt`.\n")
    path.write_text(header + "".join(f"{word}\n" for word in words), encoding="utf-8")


def _print_examples(console: Console, originals: list[str], rows: list, known: frozenset[str], n: int) -> None:
    """A few leaking negatives per kind, original beside negative."""
    shown: Counter[str] = Counter()
    for original, results in zip(originals, rows):
        for result in results:
            if not result.applicable or shown[result.kind] >= n:
                continue
            new = new_forms(result.text, original, known)
            if new or more_casing_anomalies(result.text, original):
                shown[result.kind] += 1
                why = f"new forms {sorted(new)}" if new else "casing"
                console.print(f"[bold]{result.kind}[/] ({why})\n  original: {original!r}\n  negative: {result.text!r}",
                              highlight=False, soft_wrap=True)


if __name__ == "__main__":
    main()
