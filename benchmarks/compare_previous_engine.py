"""Re-perturbing cached parses (all kinds): an earlier engine from git against the working tree,
alternating in fresh processes so that both meet the same machine load.

Each fresh process loads the parse cache, makes one cold epoch (the first touch of every report:
its layout is built then) and three warm epochs, in one of these modes:

  batch512    `apply_batch` over 512 reports per call: `radperturb perturb`'s chunk, (d)
  batch64     `apply_batch` over 64 reports per call: what (a) does after each parser batch
  collator    `apply_requests` with 64 records × all kinds per call, as the training collator
  one_by_one  one `apply_many` call per report

An engine without `apply_batch` runs every mode one report at a time. Per mode and engine the
script prints the median and the range of the warm epochs and of the cold epochs, and the ratio of
the medians (current / earlier).

With --profile N, each fresh process instead runs one cold epoch of `apply_batch` over the first N
reports (512 per call) under cProfile; the script prints each engine's profiled seconds (median),
its number of calls, and the functions whose call counts differ most — counts do not move with the
machine's load, so they tell where an engine does more work when timings cannot.

Usage: python benchmarks/compare_previous_engine.py --cache PARSES.jsonl.gz [--commit b061bd4] [--rounds 3]
       [--modes batch512,batch64,collator,one_by_one] [--profile 1536]
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
MODES = ("batch512", "batch64", "collator", "one_by_one")

CHILD = r"""
import json, re, sys, time
engine, cache_path, mode = sys.argv[1], sys.argv[2], sys.argv[3]
profile = int(sys.argv[4]) if len(sys.argv) > 4 else 0
if engine != "current":
    sys.path.insert(0, engine)
import perturb
try:
    from perturb.io import ParseCache
except ImportError:  # an engine from before perturb.io
    from perturb.cache import ParseCache
cache = ParseCache.load(cache_path)
ids = list(cache.keys())
parsed = [cache.get(k) for k in ids]
kinds = list(perturb.PERTURBATIONS)
batched = hasattr(perturb, "apply_batch") and mode != "one_by_one"

def run(seed):
    if not batched:
        for key, report in zip(ids, parsed):
            perturb.apply_many(report, kinds, seed=seed, key=key)
    elif mode == "collator":
        for a in range(0, len(ids), 64):
            records = zip(parsed[a : a + 64], ids[a : a + 64])
            requests = [perturb.Request(r, kind, k) for r, k in records for kind in kinds]
            perturb.apply_requests(requests, seed=seed)
    else:
        size = int(mode[len("batch"):])
        for a in range(0, len(ids), size):
            perturb.apply_batch(parsed[a : a + size], kinds, seed=seed, keys=ids[a : a + size])

def epoch(seed):
    start = time.perf_counter()
    run(seed)
    return len(ids) / (time.perf_counter() - start)

if profile:
    import cProfile, pstats
    ids, parsed, mode = ids[:profile], parsed[:profile], "batch512"
    profiler = cProfile.Profile()
    profiler.runcall(run, 1)
    stats = pstats.Stats(profiler)
    by_name = {}
    for (_, _, name), (_, calls, *_) in stats.stats.items():
        name = re.sub(r" at 0x[0-9a-f]+", "", name)
        by_name[name] = by_name.get(name, 0) + calls
    print(json.dumps({"seconds": stats.total_tt, "calls": stats.total_calls, "by_name": by_name}))
    sys.exit()
cold = epoch(1)
print(json.dumps({"cold": cold, "warm": [epoch(seed) for seed in (2, 3, 4)]}))
"""


def _summary(values: list[float]) -> str:
    return f"median {statistics.median(values):,.0f} reports/s (from {min(values):,.0f} to {max(values):,.0f})"


def _profile(args: argparse.Namespace, tmp: str) -> None:
    """Profiled first touches, the engines alternating: seconds, calls, the call counts that moved."""
    runs: dict[str, list[dict]] = {args.commit: [], "current": []}
    for _ in range(args.rounds):
        for engine, where in ((args.commit, tmp), ("current", "current")):
            child = [sys.executable, "-c", CHILD, where, str(args.cache), "batch512", str(args.profile)]
            runs[engine].append(json.loads(subprocess.run(child, check=True, capture_output=True, text=True,
                                                          cwd=ROOT).stdout))
    for engine, done in runs.items():
        seconds = [run["seconds"] for run in done]
        print(f"{engine:>8}: {statistics.median(seconds):.2f} s profiled (from {min(seconds):.2f} to "
              f"{max(seconds):.2f}), {done[0]['calls']:,} calls")
    earlier, current = (runs[e][0]["by_name"] for e in (args.commit, "current"))
    moved = sorted(set(earlier) | set(current), key=lambda n: -abs(current.get(n, 0) - earlier.get(n, 0)))
    print(f"calls by function name, {args.commit} → current:")
    for name in moved[:15]:
        print(f"  {earlier.get(name, 0):>9,} → {current.get(name, 0):>9,}  {name}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"commit": args.commit, "profile": args.profile, "runs": runs}) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cache", type=Path, required=True, help="parse cache of the reports to perturb")
    ap.add_argument("--commit", default="b061bd4", help="the earlier engine's commit")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--modes", default=",".join(MODES), help=f"comma-separated, of {', '.join(MODES)}")
    ap.add_argument("--out", type=Path, default=None, help="write every epoch's rate as JSON here")
    ap.add_argument("--profile", type=int, default=0, metavar="N",
                    help="instead: profile the first touch of N reports (apply_batch of 512) per engine")
    args = ap.parse_args()
    modes = [m for m in args.modes.split(",") if m]
    unknown = set(modes) - set(MODES)
    if unknown:
        ap.error(f"unknown modes {sorted(unknown)}; known: {', '.join(MODES)}")
    engines = (args.commit, "current")
    rates = {mode: {engine: {"cold": [], "warm": []} for engine in engines} for mode in modes}
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.commit, "perturb"], check=True,
                                 capture_output=True).stdout
        tarfile.open(fileobj=BytesIO(archive)).extractall(tmp, filter="data")
        if args.profile:
            _profile(args, tmp)
            return
        for _ in range(args.rounds):
            for mode in modes:
                for engine, where in ((args.commit, tmp), ("current", "current")):
                    child = [sys.executable, "-c", CHILD, where, str(args.cache), mode]
                    out = json.loads(subprocess.run(child, check=True, capture_output=True, text=True, cwd=ROOT).stdout)
                    rates[mode][engine]["cold"].append(out["cold"])
                    rates[mode][engine]["warm"] += out["warm"]
    for mode in modes:
        print(f"{mode}:")
        for epochs in ("warm", "cold"):
            for engine in engines:
                print(f"  {epochs} {engine:>8}: {_summary(rates[mode][engine][epochs])}")
            current, earlier = (statistics.median(rates[mode][e][epochs]) for e in ("current", args.commit))
            ratio = current / earlier
            print(f"  {epochs} current / {args.commit}: {ratio:.2f}x")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"commit": args.commit, "rates": rates}, indent=2) + "\n")


if __name__ == "__main__":
    main()
