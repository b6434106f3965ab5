"""GPU training throughput of radperturb's pretraining step, with its baselines in the same run.

Model: ResNet-50 + a BERT-base-size text encoder (random init, the given tokenizer's vocabulary),
B=64 images, K=9 perturbed negatives each (640 report texts per step), 224 px, all three losses,
bf16 autocast. Images are random tensors; the text path is real: reports from a JSONL, their
parses from a parse cache, negatives drawn by the collator with `perturb.apply` at every step.

  (a) ours            `pretrain.train.step` exactly as the trainer runs it (all 1+K variants through the
                      text encoder together, in length groups; batched local loss), + AdamW step
  (b) reference-style the published code's structure on the same model and batch: the K+1
                      variants encoded one after another, sub-words merged into words by Python
                      loops over samples and tokens, the local loss looping over the batch
  (c) encoder-only    the same two encoders' forward + backward + AdamW step on the same batch
                      with a trivial loss: the ceiling for (a)
  (d) pipeline        (a) fed by real DataLoader workers that perturb and tokenize on the fly;
                      GPU idle = time waiting for the next batch / step time
  (e) max batch       the largest B (K=9) whose training step fits in GPU memory

Needs torch + transformers (no spaCy, no network). Usage:

  python benchmarks/bench_train_gpu.py --reports data_samples/reports.jsonl \\
      --parse-cache parses.jsonl.gz --tokenizer /path/to/minilm --out bench_train_gpu.json
  python benchmarks/bench_train_gpu.py --tiny ...   # the same on CPU with tiny models (smoke check)
"""

from __future__ import annotations

import os

os.environ.setdefault("PYTORCH_CUDA_ALLOC_CONF", "expandable_segments:True")  # fewer OOMs from fragmentation

import argparse
import gc
import json
import math
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch.utils.data import Dataset, DistributedSampler  # noqa: E402

from perturb.cache import ParseCache  # noqa: E402
from pretrain.model.dual_encoder import build_model, masked_mean  # noqa: E402
from pretrain.model.losses import global_loss, logit_scale  # noqa: E402
from pretrain.train.collator import PerturbationCollator  # noqa: E402
from pretrain.train.config import TrainConfig  # noqa: E402
from pretrain.train.loader import SeededItems, epoch_loader  # noqa: E402
from pretrain.train.objective import Objective, to_device  # noqa: E402
from pretrain.train.optim import build_optimizer  # noqa: E402
from pretrain.train.step import autocast, clip_and_read, forward_backward  # noqa: E402
from pretrain.train.terms import build_terms  # noqa: E402

TARGETS = {"vs_reference": 5.0, "vs_encoder_only": 0.85, "gpu_idle": 0.05}


# --- data ---------------------------------------------------------------------------------------


def load_records(reports: Path, cache: ParseCache) -> list[tuple[str, str]]:
    """(id, text) of every report the parse cache holds, text = findings + blank line + impression."""
    records = []
    for line in reports.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        text = "\n\n".join(p for p in (row.get("findings", ""), row.get("impression", "")) if p)
        if text.strip() and cache.get(str(row["id"]), text) is not None:
            records.append((str(row["id"]), text))
    if not records:
        sys.exit(f"error: no report of {reports} is in the parse cache (ids and texts must match)")
    return records


class SyntheticPairs(Dataset):
    """`n` items cycling over the records, each with a random image (fixed per index)."""

    def __init__(self, records: list[tuple[str, str]], n: int, image_size: int) -> None:
        self.records, self.n, self.size = records, n, image_size

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: int) -> dict:
        key, text = self.records[index % len(self.records)]
        g = torch.Generator().manual_seed(index)
        return {"id": key, "text": text, "tags": [], "image": torch.randn(3, self.size, self.size, generator=g)}


# --- the three step variants -------------------------------------------------------------------


def ours_step(objective, optimizer, config, device, batch) -> float:
    sums, _ = forward_backward(objective, iter([batch]), config, device)
    values = clip_and_read(objective, sums, config.grad_clip)
    if not all(math.isfinite(v) for v in values.values()):
        raise RuntimeError(f"non-finite loss in the benchmark: {values}")
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return values["loss"]


def encoder_only_step(objective, optimizer, config, device, batch) -> float:
    model = objective.model
    b = to_device(batch, device)
    length = b["input_ids"].shape[-1]
    with autocast(device):
        image_global, image_local = model.image_encoder(b["images"])
        tokens = model.text_encoder(b["input_ids"].view(-1, length), b["attention_mask"].view(-1, length))
        loss = image_global.float().mean() + image_local.float().mean() + tokens.float().mean()
    loss.backward()
    value = loss.item()  # one sync per step, as in (a)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return value


def _aggregate_words_loop(tokens: torch.Tensor, word_ids: list[list[int]]) -> tuple[torch.Tensor, list[int]]:
    """GLoRIA's `aggregate_tokens`: walk every token of every report in Python, summing the
    pieces of each word (here keyed by the word id, not `token_type_ids`)."""
    per_sample, lengths = [], []
    for n, ids in enumerate(word_ids):
        words, bank, current = [], [], None
        for t, w in enumerate(ids):
            if w < 0:
                continue
            if w != current and bank:
                words.append(torch.stack(bank).sum(0))
                bank = []
            bank.append(tokens[n, t])
            current = w
        if bank:
            words.append(torch.stack(bank).sum(0))
        per_sample.append(torch.stack(words))
        lengths.append(len(words))
    width = max(lengths)
    padded = [torch.cat([w, w.new_zeros(width - len(w), w.shape[1])]) for w in per_sample]
    return torch.stack(padded), lengths


def _attention_fn(query: torch.Tensor, context: torch.Tensor, temp1: float) -> torch.Tensor:
    """GLoRIA's attention_fn: query [B, D, n] words, context [B, D, R] regions → [B, D, n]."""
    attn = torch.bmm(context.transpose(1, 2), query)  # [B, R, n]
    attn = torch.softmax(attn, dim=2)  # across words
    attn = torch.softmax(temp1 * attn.transpose(1, 2), dim=2)  # [B, n, R], across regions
    return torch.bmm(context, attn.transpose(1, 2))


def _local_loss_loop(regions, words, lengths, config) -> torch.Tensor:
    """GLoRIA's local_loss: one report at a time against every image."""
    b = regions.shape[0]
    context = regions.transpose(1, 2)  # [B, D, R]
    rows = []
    for i in range(b):
        word = words[i, : lengths[i]].T.unsqueeze(0).repeat(b, 1, 1)  # [B, D, n]
        weighted = _attention_fn(word, context, config.temp1)
        cos = F.cosine_similarity(word.transpose(1, 2), weighted.transpose(1, 2), dim=2, eps=1e-8)
        rows.append(torch.log(torch.exp(config.temp2 * cos.float()).sum(dim=1, keepdim=True)))
    scores = config.temp3 * torch.cat(rows, dim=1)  # [B images, B reports]
    labels = torch.arange(b, device=regions.device)
    return (F.cross_entropy(scores, labels) + F.cross_entropy(scores.T, labels)) / 2


def reference_losses(objective, config, b: dict) -> torch.Tensor:
    model = objective.model
    image_global, image_local = model.encode_image(b["images"])
    word_ids_host = b["word_ids_host"]
    text_global, words0, lengths0 = [], None, None
    for k in range(b["input_ids"].shape[1]):  # one variant after another
        tokens = model.text_encoder(b["input_ids"][:, k], b["attention_mask"][:, k])
        text_global.append(F.normalize(model.text_global_head(masked_mean(tokens, b["attention_mask"][:, k])), dim=-1))
        words, lengths = _aggregate_words_loop(tokens, word_ids_host[k])
        words = F.normalize(model.text_local_head(words), dim=-1)
        if k == 0:
            words0, lengths0 = words, lengths
    loss_global = global_loss(image_global, text_global[0], objective.terms["global"].log_scale)
    loss_local = _local_loss_loop(image_local, words0, lengths0, config)
    scale = logit_scale(objective.terms["pert"].log_scale)
    logits = torch.stack([scale * (image_global * t).sum(-1) for t in text_global], dim=1).float()
    loss_pert = F.cross_entropy(logits.masked_fill(~b["neg_valid"], float("-inf")),
                                torch.zeros(len(logits), dtype=torch.long, device=logits.device))
    return loss_global + config.alpha * loss_local + config.beta * loss_pert


def _with_host_word_ids(batch: dict, device) -> dict:
    b = to_device(batch, device)
    b["word_ids_host"] = [batch["word_ids"][:, k].tolist() for k in range(batch["word_ids"].shape[1])]
    return b


def reference_step(objective, optimizer, config, device, batch) -> float:
    b = _with_host_word_ids(batch, device)
    objective.train()
    with autocast(device):
        loss = reference_losses(objective, config, b)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(objective.parameters(), config.grad_clip)
    value = loss.item()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return value


# --- measurement --------------------------------------------------------------------------------


def _sync(device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(step, batches, warmup: int, steps: int, device, batch_size: int) -> dict:
    for i in range(warmup):
        step(batches[i % len(batches)])
    _sync(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    started = time.perf_counter()
    for i in range(steps):
        step(batches[(warmup + i) % len(batches)])
    _sync(device)
    seconds = time.perf_counter() - started
    peak = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else float("nan")
    return {"samples_per_s": batch_size * steps / seconds, "step_ms": 1000 * seconds / steps, "peak_gib": peak,
            "steps": steps}


def measure_pipeline(objective, optimizer, config, device, dataset, tokenizer, cache, warmup: int, steps: int) -> dict:
    """Train with real DataLoader workers (perturbing and tokenizing on the fly), as the trainer
    does; the GPU idles while the step waits for its batch."""
    items = SeededItems(dataset, config.seed)
    sampler = DistributedSampler(dataset, num_replicas=1, rank=0, shuffle=True, seed=config.seed, drop_last=True)
    collator = PerturbationCollator(
        tokenizer, cache.get, k_negatives=config.k_negatives, kinds=config.kinds, seed=config.seed,
        max_length=config.max_length, pad_to_multiple_of=8 if device.type == "cuda" else None)
    key, text = dataset.records[0]
    collator.warm_up(key, text)
    loader = epoch_loader(items, sampler, collator, config, epoch=0, skip_batches=0, pin_memory=device.type == "cuda")
    batches = iter(loader)
    waits, times = [], []
    for i in range(warmup + steps):
        started = time.perf_counter()
        sums, waited = forward_backward(objective, batches, config, device)
        clip_and_read(objective, sums, config.grad_clip)  # syncs: the step's GPU work is done
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if i >= warmup:
            waits.append(waited)
            times.append(time.perf_counter() - started)
    del batches
    return {"samples_per_s": config.batch_size * len(times) / sum(times), "step_ms": 1000 * sum(times) / len(times),
            "gpu_idle": sum(waits) / sum(times), "max_wait_ms": 1000 * max(waits), "workers": config.num_workers,
            "steps": len(times)}


def max_batch(objective, optimizer, config, device, collator, dataset, start: int, limit: int) -> dict:
    """Largest B whose full training step (and optimizer state) fits: doubling, then bisection
    down to 8 samples."""

    def fits(size: int) -> bool:
        batch = collator([dataset[i] for i in range(size)])
        try:
            for _ in range(2):
                ours_step(objective, optimizer, config, device, batch)
            _sync(device)
            return True
        except torch.OutOfMemoryError:
            optimizer.zero_grad(set_to_none=True)
            return False
        finally:
            del batch
            gc.collect()
            torch.cuda.empty_cache()

    good, bad = start, None
    while bad is None and good < limit:
        trial = min(good * 2, limit)
        if fits(trial):
            good = trial
        else:
            bad = trial
    while bad is not None and bad - good > 8:
        middle = (good + bad) // 2 // 8 * 8
        if fits(middle):
            good = middle
        else:
            bad = middle
    return {"largest_fitting": good, "smallest_failing": bad, "search_limit": limit}


# --- main ---------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--reports", type=Path, required=True, help="reports JSONL (id, findings, impression)")
    p.add_argument("--parse-cache", type=Path, required=True, help="parse cache of those reports")
    p.add_argument("--tokenizer", required=True, help="local tokenizer folder (or the alias minilm)")
    p.add_argument("--out", type=Path, required=True, help="JSON of results")
    p.add_argument("--tiny", action="store_true", help="tiny encoders, small batch: a CPU smoke check")
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--negatives", type=int, default=9)
    p.add_argument("--image-size", type=int, default=None)
    p.add_argument("--max-length", type=int, default=128)
    p.add_argument("--steps", type=int, default=None, help="timed steps per variant")
    p.add_argument("--reference-steps", type=int, default=None, help="timed steps of the slow reference")
    p.add_argument("--warmup", type=int, default=None)
    p.add_argument("--workers", type=int, default=None, help="DataLoader workers for (d)")
    p.add_argument("--text-buckets", default="4,1",
                   help="length groups of the text encoder to time (a) and (c) with; the last is used after")
    p.add_argument("--max-batch-limit", type=int, default=2048)
    p.add_argument("--skip", default="", help="comma-separated parts to skip: reference,pipeline,maxbatch")
    p.add_argument("--device", default="auto")
    return p.parse_args()


def main() -> None:
    args = parse_args()
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                          ("cpu" if args.device == "auto" else args.device))
    tiny = args.tiny
    defaults = dict(batch=8, size=32, steps=3, ref_steps=2, warmup=1, workers=2) if tiny else \
        dict(batch=64, size=224, steps=20, ref_steps=4, warmup=3, workers=min(12, os.cpu_count() or 1))
    batch_size = args.batch_size or defaults["batch"]
    config = TrainConfig(
        image_encoder="tiny-resnet" if tiny else "resnet50", text_encoder="tiny-bert" if tiny else "bert-base-random",
        tokenizer=args.tokenizer, embed_dim=32 if tiny else 768, image_size=args.image_size or defaults["size"],
        max_length=args.max_length, batch_size=batch_size, k_negatives=args.negatives,
        num_workers=args.workers if args.workers is not None else defaults["workers"], device=device.type,
    ).validate()
    steps, warmup = args.steps or defaults["steps"], args.warmup if args.warmup is not None else defaults["warmup"]
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}

    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
    torch.manual_seed(0)
    cache = ParseCache.load(args.parse_cache)
    records = load_records(args.reports, cache)
    model, tokenizer = build_model(config)
    model.to(device)
    if device.type == "cuda":
        model.image_encoder.to(memory_format=torch.channels_last)
    objective = Objective(model, build_terms(config)).to(device)
    optimizer = build_optimizer(objective, config, device)
    encoder_params = [p for n, p in model.named_parameters() if n.startswith(("image_encoder.", "text_encoder."))]
    encoder_optimizer = torch.optim.AdamW(encoder_params, lr=config.lr_encoders, fused=device.type == "cuda")

    dataset = SyntheticPairs(records, max(batch_size * (warmup + steps + 2), args.max_batch_limit if not tiny else 64),
                             config.image_size)
    collator = PerturbationCollator(tokenizer, cache.get, k_negatives=config.k_negatives, seed=0,
                                    max_length=config.max_length,
                                    pad_to_multiple_of=8 if device.type == "cuda" else None)
    batches = [collator([dataset[(j * batch_size + i) % len(dataset)] for i in range(batch_size)]) for j in range(4)]
    if device.type == "cuda":
        batches = [{k: v.pin_memory() if torch.is_tensor(v) else v for k, v in b.items()} for b in batches]
    shape = list(batches[0]["input_ids"].shape)
    print(f"device {torch.cuda.get_device_name(device) if device.type == 'cuda' else platform.processor() or 'cpu'}; "
          f"{len(records)} reports; batch input_ids {shape}; valid negatives "
          f"{float(batches[0]['neg_valid'][:, 1:].float().mean()):.2f}", flush=True)

    # Same weights, same batch, no dropout: the reference computes the same loss as ours.
    model.text_encoder.buckets = int(args.text_buckets.split(",")[-1])
    objective.eval()
    with torch.no_grad(), autocast(device):
        b = _with_host_word_ids(batches[0], device)
        agreement = {"ours": float(objective(b)["loss"]), "reference": float(reference_losses(objective, config, b))}
    objective.train()
    print(f"loss on the same batch: ours {agreement['ours']:.5f}, reference-style {agreement['reference']:.5f}",
          flush=True)

    results: dict[str, dict] = {}
    run = lambda fn, opt: (lambda batch: fn(objective, opt, config, device, batch))  # noqa: E731
    buckets = [int(b) for b in args.text_buckets.split(",")]
    for count in buckets:
        model.text_encoder.buckets = count
        suffix = "" if count == buckets[-1] else f"_buckets{count}"
        results["ours" + suffix] = measure(run(ours_step, optimizer), batches, warmup, steps, device, batch_size)
        print(f"ours, {count} length groups", results["ours" + suffix], flush=True)
        results["encoder_only" + suffix] = measure(run(encoder_only_step, encoder_optimizer), batches, warmup, steps,
                                                   device, batch_size)
        print(f"encoder_only, {count} length groups", results["encoder_only" + suffix], flush=True)
    if "reference" not in skip:
        model.text_encoder.buckets = 1  # the published code pads every variant to one length
        results["reference"] = measure(run(reference_step, optimizer), batches, 1,
                                       args.reference_steps or defaults["ref_steps"], device, batch_size)
        print("reference", results["reference"], flush=True)
        model.text_encoder.buckets = buckets[-1]
    if "pipeline" not in skip:
        results["pipeline"] = measure_pipeline(objective, optimizer, config, device, dataset, tokenizer, cache,
                                               warmup, steps)
        print("pipeline", results["pipeline"], flush=True)
    if "maxbatch" not in skip and device.type == "cuda":
        del batches
        gc.collect()
        torch.cuda.empty_cache()
        results["max_batch"] = max_batch(objective, optimizer, config, device, collator, dataset, batch_size,
                                         args.max_batch_limit)
        print("max_batch", results["max_batch"], flush=True)

    ratios = {"vs_encoder_only": results["ours"]["samples_per_s"] / results["encoder_only"]["samples_per_s"]}
    for count in buckets[:-1]:
        ours, limit = results[f"ours_buckets{count}"], results[f"encoder_only_buckets{count}"]
        ratios[f"vs_encoder_only_buckets{count}"] = ours["samples_per_s"] / limit["samples_per_s"]
        ratios[f"speedup_of_{buckets[-1]}_groups_over_{count}"] = results["ours"]["samples_per_s"] / ours["samples_per_s"]
    if "reference" in results:
        ratios["vs_reference"] = results["ours"]["samples_per_s"] / results["reference"]["samples_per_s"]
    if "pipeline" in results:
        ratios["gpu_idle"] = results["pipeline"]["gpu_idle"]
    met = {k: (v <= TARGETS[k] if k == "gpu_idle" else v >= TARGETS[k]) for k, v in ratios.items() if k in TARGETS}
    report = {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "torch": torch.__version__, "tiny": tiny, "batch_size": batch_size, "k_negatives": config.k_negatives,
        "image_size": config.image_size, "input_ids_shape": shape, "precision": "bf16" if device.type == "cuda" else "fp32",
        "image_encoder": config.image_encoder, "text_encoder": config.text_encoder, "reports": len(records),
        "text_buckets": buckets[-1],
        "loss_agreement": agreement, "results": results, "ratios": ratios, "targets": TARGETS, "targets_met": met,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_name(f".{args.out.name}.tmp")
    tmp.write_text(json.dumps(report, indent=2) + "\n")
    os.replace(tmp, args.out)

    print(f"\n{'variant':<22}{'samples/s':>11}{'step ms':>10}{'peak GiB':>10}")
    for name, r in results.items():
        if "samples_per_s" in r:
            print(f"{name:<22}{r['samples_per_s']:>11.1f}{r['step_ms']:>10.1f}{r.get('peak_gib', float('nan')):>10.2f}")
    if "max_batch" in results:
        print(f"largest batch that fits (K={config.k_negatives}): {results['max_batch']['largest_fitting']}")
    print(f"\n{'ratio':<30}{'value':>8}{'target':>10}  met")
    for name, value in ratios.items():
        target = f"{'<=' if name == 'gpu_idle' else '>='} {TARGETS[name]}" if name in TARGETS else ""
        verdict = ("yes" if met[name] else "NO") if name in met else ""
        print(f"{name:<30}{value:>8.3f}{target:>10}  {verdict}")
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
