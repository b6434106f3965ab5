"""Throughput of the perturbation engine on the real Open-I reports, single process, with the
baselines measured in the same run:

  (a) parse + all registered kinds         (our pipeline: one light parse per report)
  (b) naive, as the paper's public code    (full spaCy pipeline re-run for each POS-based kind:
                                            four parses per report, plus tokenising for the rest)
  (c) bare `nlp.pipe` with our components  (the parse alone: the ceiling for (a))
  (d) re-perturbing cached ParsedReports   (what a training worker does each step; cold = first
                                            touch of each report, warm = later epochs)
  (e) (a) with n_process = 1, 2, ...

Usage: python benchmarks/bench_perturb.py [--limit N] [--naive-limit M] [--n-process 1,2] [--out F]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import perturb
from perturb.cache import ParseCache, write_parse_cache
from perturb.openi import load_openi
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=0, help="reports to use (0 = all)")
    ap.add_argument("--naive-limit", type=int, default=400, help="reports for the slow baseline (b)")
    ap.add_argument("--n-process", default="1,2", help="comma-separated n_process values for (e)")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--out", type=Path, default=None, help="write the figures as JSON here")
    args = ap.parse_args()

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

    res["c_bare_parse_rps"] = n / timed(lambda: list(parser.nlp.pipe(texts, batch_size=bs)))

    def ours() -> None:
        for key, parsed in zip(ids, parser.parse_many(texts, batch_size=bs)):
            perturb.apply_many(parsed, kinds, seed=0, key=key)

    res["a_parse_and_all_kinds_rps"] = n / timed(ours)

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
        cache = ParseCache.load(cache_path)
    cached = [cache.get(key) for key in ids]

    def reperturb(seed: int) -> None:
        for key, parsed in zip(ids, cached):
            perturb.apply_many(parsed, kinds, seed=seed, key=key)

    res["d_cached_cold_rps"] = n / timed(lambda: reperturb(1))
    res["d_cached_warm_rps"] = n / timed(lambda: reperturb(2))

    for n_process in [int(x) for x in args.n_process.split(",")]:
        def scaled() -> None:
            for key, parsed in zip(ids, parser.parse_many(texts, n_process=n_process, batch_size=bs)):
                perturb.apply_many(parsed, kinds, seed=0, key=key)

        res[f"e_n_process_{n_process}_rps"] = n / timed(scaled)

    res["ratio_a_over_b"] = res["a_parse_and_all_kinds_rps"] / res["b_naive_rps"]
    res["ratio_a_over_c"] = res["a_parse_and_all_kinds_rps"] / res["c_bare_parse_rps"]

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
