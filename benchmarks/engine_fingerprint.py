"""Engine fingerprint: every registered kind, both scopes, two draws, over all non-empty Open-I
reports (batch path, `apply_batch`) and every 10th of them (single path, `apply_many`); prints one
sha256 per path, to compare two checkouts (a restructure must not change a result).

Usage: PYTHONPATH=CHECKOUT python benchmarks/engine_fingerprint.py [PARSES.jsonl.gz]
(with PARSES, also writes the parses, e.g. for benchmarks/compare_previous_engine.py --cache).
"""

import hashlib
import json
import sys

import perturb

try:
    from pretrain.data.openi import load_openi
except ImportError:  # an engine from before pretrain's rooms
    from perturb.openi import load_openi

reports = [r for r in load_openi() if r.text]
ids = [r.id for r in reports]
parsed = list(perturb.Parser().parse_many((r.text for r in reports), batch_size=64))
kinds = sorted(perturb.PERTURBATIONS)
if len(sys.argv) > 1:  # also write the parses, for benchmarks/compare_previous_engine.py
    from perturb.io import write_parse_cache
    write_parse_cache(sys.argv[1], zip(ids, (r.text for r in reports), parsed))


def row(res):
    return [res.kind, res.text, bool(res.applicable), int(res.draw), [int(i) for i in res.source_index]]


batch, single = hashlib.sha256(), hashlib.sha256()
for scope in perturb.SCOPES:
    for results in perturb.apply_batch(parsed, kinds, seed=0, keys=ids, draws=2, scope=scope):
        batch.update(json.dumps([row(r) for r in results]).encode())
    for key, report in list(zip(ids, parsed))[::10]:
        results = perturb.apply_many(report, kinds, seed=0, draws=2, scope=scope, key=key)
        single.update(json.dumps([row(r) for r in results]).encode())
print(f"reports {len(parsed)} kinds {len(kinds)} scopes {list(perturb.SCOPES)}")
print("engine batch sha256:", batch.hexdigest())
print("engine single sha256 (every 10th):", single.hexdigest())
