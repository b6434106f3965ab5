"""Re-perturbing cached parses (all kinds): an earlier engine from git against the working tree,
alternating in fresh processes so that both meet the same machine load.

Each engine runs as its users ran it: `apply_batch` over --perturb-batch reports per call where it
has one, else one `apply_many` call per report. Each process loads the parse cache, makes one cold
epoch, then times three warm epochs.

Usage: python benchmarks/compare_previous_engine.py --cache PARSES.jsonl.gz [--commit b061bd4] [--rounds 3]
       [--perturb-batch 512]
(write the cache with `radperturb perturb REPORTS --cache-parses PARSES.jsonl.gz`.)
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import json, sys, time
engine, cache_path, batch = sys.argv[1], sys.argv[2], int(sys.argv[3])
if engine != "current":
    sys.path.insert(0, engine)
import perturb
from perturb.cache import ParseCache
cache = ParseCache.load(cache_path)
ids = list(cache.keys())
parsed = [cache.get(k) for k in ids]
kinds = list(perturb.PERTURBATIONS)

def epoch(seed):
    start = time.perf_counter()
    if hasattr(perturb, "apply_batch"):
        for a in range(0, len(ids), batch):
            perturb.apply_batch(parsed[a : a + batch], kinds, seed=seed, keys=ids[a : a + batch])
    else:
        for key, report in zip(ids, parsed):
            perturb.apply_many(report, kinds, seed=seed, key=key)
    return len(ids) / (time.perf_counter() - start)

epoch(1)
print(json.dumps([epoch(seed) for seed in (2, 3, 4)]))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cache", type=Path, required=True, help="parse cache of the reports to perturb")
    ap.add_argument("--commit", default="b061bd4", help="the earlier engine's commit")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--perturb-batch", type=int, default=512)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.commit, "perturb"], check=True,
                                 capture_output=True).stdout
        tarfile.open(fileobj=BytesIO(archive)).extractall(tmp, filter="data")
        rates: dict[str, list[float]] = {args.commit: [], "current": []}
        for _ in range(args.rounds):
            for engine, where in ((args.commit, tmp), ("current", "current")):
                child = [sys.executable, "-c", CHILD, where, str(args.cache), str(args.perturb_batch)]
                out = subprocess.run(child, check=True, capture_output=True, text=True, cwd=ROOT).stdout
                rates[engine] += json.loads(out)
    for engine, values in rates.items():
        print(f"{engine:>8}: median {statistics.median(values):,.0f} reports/s "
              f"(epochs from {min(values):,.0f} to {max(values):,.0f})")
    ratio = statistics.median(rates["current"]) / statistics.median(rates[args.commit])
    print(f"current / {args.commit}: {ratio:.2f}x")


if __name__ == "__main__":
    main()
