"""The clinical edits on the real Open-I reports: how often each kind applies, how well a blind
language model tells each kind's edits from their originals, and a sample to check by hand.

  rates   applicable share of each clinical kind over all Open-I reports (seed 0)
  blind   the blind Kneser–Ney model, fitted on the training split's reports only, picking the
          original over its negative on the test split (chance 50 %; ties count as wrong), per
          kind and per direction of the edit (what leaks), by total log-probability and by
          log-probability per token; the paper's nine kinds beside them for reference
  sample  N reports per kind (seed-fixed, test split) as a markdown table to judge by reading

Usage: python benchmarks/clinical_edits.py {rates,blind,sample} [--order 2] [--n 50] [--seed 0]
                                           [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
from collections import defaultdict
from pathlib import Path

import perturb
from perturb import CLINICAL_KINDS, PAPER_KINDS
from perturb.clinical import describe
from perturb.openi import load_openi
from pretrain.data.splits import assign_split
from pretrain.evaluation.blind_lm import fit_training_lm, tokenize


def parsed_reports(split: str | None = None):
    """(id, ParsedReport) of the Open-I reports (of one split), parsed once."""
    reports = [r for r in load_openi() if r.text and (split is None or assign_split(r.id) == split)]
    parser = perturb.Parser()
    return [(r.id, p) for r, p in zip(reports, parser.parse_many([r.text for r in reports], batch_size=128))]


def rates(args: argparse.Namespace) -> dict:
    reports = parsed_reports()
    rows = perturb.apply_batch([p for _, p in reports], list(CLINICAL_KINDS), seed=args.seed,
                               keys=[i for i, _ in reports])
    out = {"reports": len(reports)}
    for k, kind in enumerate(CLINICAL_KINDS):
        n = sum(row[k].applicable for row in rows)
        out[kind] = {"applicable": n, "share": round(n / len(reports), 4)}
    return out


def _direction(report, result) -> str:
    changes = describe(report, result)
    return ", ".join(sorted({f"{c.before}→{c.after}" for c in changes})) or "?"


def blind(args: argparse.Namespace) -> dict:
    lm = fit_training_lm(args.order)
    reports = parsed_reports("test")
    kinds = list(CLINICAL_KINDS) + list(PAPER_KINDS)
    rows = perturb.apply_batch([p for _, p in reports], kinds, seed=args.seed, keys=[i for i, _ in reports])
    originals = [lm.logprob(p.text) for _, p in reports]
    lengths = [len(tokenize(p.text)) + 1 for _, p in reports]
    out: dict = {"order": args.order, "test_reports": len(reports), "kinds": {}}
    for k, kind in enumerate(kinds):
        total = per_token = n = 0
        by_direction: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for (_, report), row, score, length in zip(reports, rows, originals, lengths):
            result = row[k]
            if not result.applicable:
                continue
            negative = lm.logprob(result.text)
            n += 1
            won = score > negative
            total += won
            per_token += score / length > negative / (len(tokenize(result.text)) + 1)
            if kind in CLINICAL_KINDS:
                cell = by_direction[_direction(report, result)]
                cell[0] += won
                cell[1] += 1
        entry = {"n": n, "accuracy": round(total / n, 4) if n else None,
                 "accuracy_per_token": round(per_token / n, 4) if n else None}
        if by_direction:
            entry["by_direction"] = {d: {"n": c[1], "accuracy": round(c[0] / c[1], 4)}
                                     for d, c in sorted(by_direction.items(), key=lambda e: -e[1][1])}
        out["kinds"][kind] = entry
    out["median_original_logprob"] = statistics.median(originals)
    return out


def _sentences(report, positions) -> list[int]:
    sentences = {report.sent_ids[i] for i in positions}
    return [i for i in range(len(report)) if report.sent_ids[i] in sentences]


def sample(args: argparse.Namespace) -> str:
    reports = parsed_reports("test")
    rng = random.Random(args.seed)
    lines = []
    for kind in CLINICAL_KINDS:
        made = [(i, p, perturb.apply(p, kind, seed=args.seed, key=i)) for i, p in reports]
        made = [m for m in made if m[2].applicable]
        lines += [f"### {kind} ({len(made)} of {len(reports)} test reports applicable; {args.n} drawn)", "",
                  "| # | report | original sentence | edited sentence | change | verdict |",
                  "| --- | --- | --- | --- | --- | --- |"]
        for number, (rid, report, result) in enumerate(sorted(rng.sample(made, min(args.n, len(made))),
                                                              key=lambda m: m[0]), 1):
            idx = _sentences(report, [r.position for r in result.replacements])
            before = "".join(report.layout.tokens[i] + report.whitespace[i] for i in idx)
            after = "".join(result.tokens[i] + report.whitespace[i] for i in idx)
            change = "; ".join(f"{c.finding}: {c.before}→{c.after}" for c in describe(report, result))
            cells = [" ".join(x.split()).replace("|", "\\|") for x in (before, after)]
            lines.append(f"| {number} | {rid} | {cells[0]} | {cells[1]} | {change} |  |")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=("rates", "blind", "sample"))
    parser.add_argument("--order", type=int, default=2)
    parser.add_argument("--n", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    result = {"rates": rates, "blind": blind, "sample": sample}[args.what](args)
    text = result if isinstance(result, str) else json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    sys.exit(main())
