"""Throughput of the perturbation engine on the real Open-I reports, single process, with the
baselines measured in the same run:

  (a) parse + all registered kinds         (our pipeline: one light parse per report; (a) and (c)
                                            alternate --rounds times, medians and the median of
                                            the paired (a)/(c) ratios)
  (b) naive, as the paper's public code    (full spaCy pipeline re-run for each POS-based kind:
                                            four parses per report, plus tokenising for the rest)
  (c) bare `nlp.pipe` with our components  (the parse alone: the ceiling for (a))
  (d) re-perturbing cached ParsedReports   (`apply_batch` over chunks of --perturb-batch reports,
                                            512 by default: the chunk `radperturb perturb` hands it
                                            with its defaults; cold = first touch of each report,
                                            warm = median, slowest and fastest of nine later
                                            epochs), the same with one `apply_many` call per
                                            report as the in-run baseline, and as the collator
                                            does it (`apply_requests`, 64 records × all kinds)
  (e) (a) with n_process = 1, 2, ...

(a) and (e) perturb each parser batch with one `apply_batch` call, as `radperturb perturb` does.

Usage: python benchmarks/bench_perturb.py [--limit N] [--naive-limit M] [--n-process 1,2]
                                          [--rounds R] [--perturb-batch B] [--out F]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from itertools import islice
from pathlib import Path

import perturb
from perturb.cache import ParseCache, write_parse_cache
from pretrain.data.openi import load_openi
from perturb.parser import doc_to_parsed

POS_KINDS = (
    "shuffle_nouns_and_adj",
    "shuffle_allbut_nouns_and_adj",
    "shuffle_nouns_verbs_adj",
    "replace_adjectives_with_antonyms",
)


def timed(fn) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def reperturb_figures(cache_path: Path, pb: int) -> dict[str, float]:
    """(d): re-perturb every cached parse with all kinds, in a process without spaCy or torch."""
    cache = ParseCache.load(cache_path)
    ids = list(cache.keys())
    cached = [cache.get(key) for key in ids]
    kinds = list(perturb.PERTURBATIONS)
    n = len(ids)

    def reperturb(seed: int) -> None:
        for start in range(0, n, pb):
            perturb.apply_batch(cached[start : start + pb], kinds, seed=seed, keys=ids[start : start + pb])

    def one_by_one(seed: int) -> None:
        for key, parsed in zip(ids, cached):
            perturb.apply_many(parsed, kinds, seed=seed, key=key)

    def collator_style(seed: int) -> None:  # a training step: 64 records, each kind once, one call
        for start in range(0, n, 64):
            requests = [
                perturb.Request(report, kind, key)
                for report, key in zip(cached[start : start + 64], ids[start : start + 64])
                for kind in kinds
            ]
            perturb.apply_requests(requests, seed=seed)

    res: dict[str, float] = {"perturb_batch": pb}
    res["d_cached_cold_rps"] = n / timed(lambda: reperturb(1))
    warm = [n / timed(lambda s=s: reperturb(s)) for s in range(2, 11)]
    res["d_cached_warm_rps"] = statistics.median(warm)
    res["d_cached_warm_slowest_epoch_rps"] = min(warm)
    res["d_cached_warm_best_epoch_rps"] = max(warm)
    one_by_one_rates = [n / timed(lambda s=s: one_by_one(s)) for s in (11, 12, 13)]
    res["d_one_report_per_call_warm_rps"] = statistics.median(one_by_one_rates)
    res["ratio_d_batch_over_one_by_one"] = res["d_cached_warm_rps"] / res["d_one_report_per_call_warm_rps"]
    collated = [n / timed(lambda s=s: collator_style(s)) for s in (14, 15, 16)]
    res["d_collator_style_b64_warm_rps"] = statistics.median(collated)
    res["d_process_had_spacy_or_torch"] = float("spacy" in sys.modules or "torch" in sys.modules)
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=0, help="reports to use (0 = all)")
    ap.add_argument("--naive-limit", type=int, default=400, help="reports for the slow baseline (b)")
    ap.add_argument("--n-process", default="1,2", help="comma-separated n_process values for (e)")
    ap.add_argument("--batch-size", type=int, default=64, help="parser batch size")
    ap.add_argument(
        "--perturb-batch", type=int, default=512, help="reports per apply_batch call in (d) (the CLI's chunk)"
    )
    ap.add_argument("--rounds", type=int, default=3, help="alternating (c), (a) pairs")
    ap.add_argument("--out", type=Path, default=None, help="write the figures as JSON here")
    ap.add_argument("--reperturb", type=Path, default=None, help=argparse.SUPPRESS)  # (d)'s child process
    args = ap.parse_args()
    if args.reperturb:
        print(json.dumps(reperturb_figures(args.reperturb, args.perturb_batch)))
        return

    import spacy
    from rich.console import Console
    from rich.table import Table

    reports = [r for r in load_openi() if r.text]
    if args.limit:
        reports = reports[: args.limit]
    texts = [r.text for r in reports]
    ids = [r.id for r in reports]
    kinds = list(perturb.PERTURBATIONS)
    parser = perturb.Parser()
    list(parser.parse_many(texts[:50]))  # warm-up: model caches, vocab
    perturb.apply_many(parser.parse(texts[0]), seed=0)  # warm-up: lexicon, lazy imports
    n = len(texts)
    bs = args.batch_size
    res: dict[str, float] = {"reports": n, "kinds": len(kinds)}

    def parse_and_perturb(n_process: int = 1) -> None:
        parsed = parser.parse_many(texts, n_process=n_process, batch_size=bs)
        for start in range(0, n, bs):
            perturb.apply_batch(list(islice(parsed, bs)), kinds, seed=0, keys=ids[start : start + bs])

    # (c) and (a) alternate, so that each pair meets the same machine load; their ratio is the
    # median of the pairs' ratios.
    bare, ours = [], []
    for _ in range(args.rounds):
        bare.append(n / timed(lambda: list(parser.nlp.pipe(texts, batch_size=bs))))
        ours.append(n / timed(parse_and_perturb))
    res["c_bare_parse_rps"] = statistics.median(bare)
    res["a_parse_and_all_kinds_rps"] = statistics.median(ours)
    res["ratio_a_over_c"] = statistics.median(a / c for a, c in zip(ours, bare))

    full = spacy.load(parser.nlp.meta["lang"] + "_" + parser.nlp.meta["name"])
    naive_texts = texts[: args.naive_limit]

    def naive() -> None:
        for key, text in zip(ids, naive_texts):
            for kind in POS_KINDS:  # the paper's code parses the report again for each of these
                perturb.apply(doc_to_parsed(full(text)), kind, seed=0, key=key)
            tokens_only = doc_to_parsed(full.make_doc(text))
            for kind in kinds:
                if kind not in POS_KINDS:
                    perturb.apply(tokens_only, kind, seed=0, key=key)

    res["b_naive_rps"] = len(naive_texts) / timed(naive)

    with tempfile.TemporaryDirectory() as tmp:
        cache_path = Path(tmp) / "parses.jsonl.gz"
        write_parse_cache(cache_path, zip(ids, texts, parser.parse_many(texts, batch_size=bs)))
        # A training worker holds the parse cache, not spaCy: measure (d) in such a process.
        child = [sys.executable, __file__, "--reperturb", str(cache_path), "--perturb-batch", str(args.perturb_batch)]
        res.update(json.loads(subprocess.run(child, check=True, capture_output=True, text=True).stdout))

    for n_process in [int(x) for x in args.n_process.split(",")]:
        res[f"e_n_process_{n_process}_rps"] = n / timed(lambda p=n_process: parse_and_perturb(p))

    res["ratio_a_over_b"] = res["a_parse_and_all_kinds_rps"] / res["b_naive_rps"]

    table = Table(title=f"perturbation engine, {n} Open-I reports, {len(kinds)} kinds")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key, value in res.items():
        table.add_row(key, f"{value:,.2f}" if isinstance(value, float) else str(value))
    Console().print(table)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(res, indent=2) + "\n")


if __name__ == "__main__":
    main()
