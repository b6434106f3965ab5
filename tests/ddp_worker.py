"""Run by tests/test_ddp.py under `torchrun --nproc-per-node 2` (gloo, CPU): train each loss
setting for two steps, then check that one DDP step of the global + perturbation objective equals
one process on the global batch, losses and gradients. Writes OUT/rank-R.json.

Usage: torchrun --standalone --nproc-per-node 2 tests/ddp_worker.py MANIFEST PARSE_CACHE OUT
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path
from unittest import mock

import torch
import torch.distributed as dist

from perturb.cache import ParseCache
from pretrain.data import ManifestDataset
from pretrain.experiments.ablation import SETTINGS
from pretrain.model.dual_encoder import build_model
from pretrain.train.collator import PerturbationCollator
from pretrain.train.config import TrainConfig
from pretrain.train.distributed import init_from_env
from pretrain.train.loop import seed_everything, train, wrap_for_ranks
from pretrain.train.objective import Objective, to_device
from pretrain.train.terms import build_terms

#: The ablation's four settings, and the one it leaves out (no global term).
ALL_SETTINGS = {**SETTINGS, "no_global": {"use_global": False, "use_local": True, "use_pert": True}}


def train_every_setting(base: TrainConfig, out: Path) -> dict[str, object]:
    outcome: dict[str, object] = {}
    for name, terms in ALL_SETTINGS.items():
        try:
            run = train(replace(base, out_dir=str(out / name), **terms))
            rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
            outcome[name] = {"steps": [r["step"] for r in rows], "losses": [r["loss"] for r in rows]}
        except Exception as err:  # reported to the test, which prints it
            outcome[name] = f"{type(err).__name__}: {err}"
    return outcome


def global_batch_agreement(base: TrainConfig) -> dict[str, float]:
    """Each rank scores its half of one global batch through the DDP objective (eval mode: no
    dropout, fixed BatchNorm statistics); rank 0 scores the whole batch in one process."""
    config = replace(base, use_local=False)  # the local loss is per rank by design; the others are global
    rank, world = dist.get_rank(), dist.get_world_size()
    seed_everything(config.seed)
    model, tokenizer = build_model(config)
    model.eval()
    dataset = ManifestDataset(config.manifest, split="train", image_size=config.image_size, channels=config.channels)
    collator = PerturbationCollator(tokenizer, ParseCache.load(config.parse_cache).get, k_negatives=config.negatives,
                                    kinds=config.kinds, seed=config.seed, max_length=config.max_length)
    b = config.batch_size
    bare = Objective(model, build_terms(config))
    objective = wrap_for_ranks(bare, torch.device("cpu"))
    terms = objective(to_device(collator([dataset[i] for i in range(rank * b, (rank + 1) * b)]), torch.device("cpu")))
    terms["loss"].backward()  # DDP averages the gradients over the ranks
    for value in terms.values():
        dist.all_reduce(value.detach_())
    ddp_terms = {k: float(v) / world for k, v in terms.items()}
    ddp_grads = {n: p.grad for n, p in bare.named_parameters() if p.grad is not None}
    if rank != 0:
        return {}
    seed_everything(config.seed)
    one, _ = build_model(config)
    one = Objective(one, build_terms(config))
    one.eval()
    full = to_device(collator([dataset[i] for i in range(world * b)]), torch.device("cpu"))
    with mock.patch("pretrain.model.losses.gather_with_grad", lambda x: (x, 0)):  # one process: nothing to gather
        reference = one(full)
    reference["loss"].backward()
    grads = {n: p.grad for n, p in one.named_parameters() if p.grad is not None}
    assert set(grads) == set(ddp_grads), set(grads) ^ set(ddp_grads)
    return {
        "terms": sorted(reference),
        "max_term_difference": max(abs(ddp_terms[k] - float(v)) for k, v in reference.items()),
        "max_grad_difference": max(float((ddp_grads[n] - g).abs().max()) for n, g in grads.items()),
        "max_grad": max(float(g.abs().max()) for g in grads.values()),
        "n_grads": len(grads),
    }


def main(manifest: str, cache: str, out: str) -> None:
    info = init_from_env("cpu")
    base = TrainConfig(manifest=manifest, parse_cache=cache, image_encoder="tiny-resnet", text_encoder="tiny-bert",
                       embed_dim=16, image_size=32, max_length=48, batch_size=4, k_negatives=2, max_steps=2,
                       save_every=2, log_every=1, device="cpu")
    result = {"rank": info.rank, "world_size": info.world_size,
              "settings": train_every_setting(base, Path(out)),
              "agreement": global_batch_agreement(base)}
    Path(out, f"rank-{info.rank}.json").write_text(json.dumps(result, indent=1))
    dist.destroy_process_group()


if __name__ == "__main__":
    main(*sys.argv[1:4])
