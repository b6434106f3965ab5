"""`PerturbationCollator`: fresh perturbed negatives for every batch, made in the DataLoader workers.

The published code perturbs each report once at start-up, so the model meets the same K negatives
every epoch. Here each batch draws its own: per record, K kinds are sampled and applied to the
record's cached parse with a seed derived from (base seed, epoch), keyed by the record id — new
negatives every epoch, the same ones on every rerun, resume, worker count or batch order.

The collator owns no parser and no cache: it is given `parse(key, text)`, the record's parse or
None. The trainer gives it a parse cache's lookup, so that the workers only perturb and tokenize
(pure Python + a fast tokenizer) and never load spaCy.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Any

import torch

from perturb import ParsedReport, Request, apply, apply_requests, resolve_kinds
from perturb.errors import DataError
from perturb.seeding import key_hash, stream
from pretrain.model.text import tokenize_reports

#: A record's parse from its id and text; None when there is none (a cache that lacks it).
ParseFn = Callable[[str, str], ParsedReport | None]
#: Entries a loss term adds to each batch, from the dataset items, their parses and the tokenizer
#: (made in the DataLoader workers: a module-level function, which they can unpickle).
BatchPart = Callable[[Sequence[dict[str, Any]], Sequence[ParsedReport], Any], dict[str, Any]]


class CollatorError(DataError):
    """A record the collator cannot turn into a training sample; the message names it."""


def epoch_seed(base_seed: int, epoch: int) -> int:
    """The perturbation seed of one epoch: a stable hash of (base seed, epoch), non-negative."""
    digest = hashlib.blake2b(f"{base_seed}:{epoch}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1


class PerturbationCollator:
    """Dataset items (`id`, `image`, `text`, `tags`) → a training batch:

    - `images` [B, C, H, W];
    - `input_ids`, `attention_mask`, `word_ids` [B, 1+K, L]: column 0 the original report (as the
      perturbation renderer writes it, so that casing gives nothing away), then K negatives;
    - `neg_valid` [B, 1+K] bool: column 0 True; False for a negative whose kind did not apply or
      whose text repeats the original or an earlier negative;
    - `ids` (list of B record ids) and `kinds` (B lists of K kind names);
    - whatever the loss terms' `parts` add (`LossTerm.collate`).
    """

    def __init__(
        self,
        tokenizer,
        parse: ParseFn,
        *,
        k_negatives: int = 9,
        kinds: Sequence[str] | str | None = None,
        seed: int = 0,
        max_length: int = 128,
        with_replacement: bool = False,
        scope: str = "report",
        pad_to_multiple_of: int | None = None,
        parts: Sequence[BatchPart] = (),
    ) -> None:
        self.tokenizer = tokenizer
        self.parse = parse
        self.k = int(k_negatives)
        self.kinds = resolve_kinds(kinds)
        if self.k and not self.kinds:
            raise CollatorError("no perturbation kinds to draw negatives from")
        self.seed = int(seed)
        self.max_length = int(max_length)
        self.with_replacement = with_replacement
        self.scope = scope
        self.pad_to_multiple_of = pad_to_multiple_of
        self.parts = tuple(parts)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Negatives are a function of (seed, epoch, record id): call before each epoch's loader
        is iterated (workers copy the collator when the iterator starts)."""
        self.epoch = int(epoch)

    def parsed(self, key: str, text: str) -> ParsedReport:
        """The record's parse, or a one-line error naming the record."""
        report = self.parse(key, text)
        if report is None:
            raise CollatorError(f"record {key!r} has no parse (missing from the parse cache, or its text "
                                "changed since); rebuild the cache")
        return report

    def warm_up(self, key: str, text: str) -> None:
        """Apply every kind once here, so that what perturbations load lazily (WordNet, say)
        is loaded before DataLoader workers fork, not again in each worker every epoch."""
        report = self.parsed(key, text)
        for name in self.kinds:
            apply(report, name, seed=0, scope=self.scope, key=key)

    def draw_kinds(self, key: str) -> list[tuple[str, int]]:
        """The K (kind, draw) pairs of one record this epoch. Without replacement the kinds are
        dealt from shuffled rounds of the kind list (each round with a new draw index), so no
        kind repeats before every kind was used."""
        rng = stream(epoch_seed(self.seed, self.epoch), key_hash(key), "collator:kinds")
        n = len(self.kinds)
        if self.with_replacement:
            picks: list[tuple[str, int]] = []
            seen: dict[str, int] = {}
            for index in rng.integers(n, size=self.k):
                name = self.kinds[int(index)]
                picks.append((name, seen.get(name, 0)))
                seen[name] = seen.get(name, 0) + 1
            return picks
        rounds = -(-self.k // n)
        return [(self.kinds[int(i)], r) for r in range(rounds) for i in rng.permutation(n)][: self.k]

    def negatives(self, records: Sequence[tuple[str, ParsedReport]]) -> list[tuple[list[str], list[bool], list[str]]]:
        """(texts, valid, kinds) of each record's K negatives this epoch, all made in one
        `apply_requests` call (a kind's negatives for the whole batch per numpy call)."""
        seed = epoch_seed(self.seed, self.epoch)
        plans = [self.draw_kinds(key) for key, _ in records]
        requests = [
            Request(report, name, key, draw) for (key, report), plan in zip(records, plans) for name, draw in plan
        ]
        results = iter(apply_requests(requests, seed=seed, scope=self.scope))
        out = []
        for (_, report), plan in zip(records, plans):
            seen = {report.text}
            texts, valid, kinds = [], [], []
            for name, _ in plan:
                result = next(results)
                texts.append(result.text)
                valid.append(result.applicable and result.text not in seen)
                seen.add(result.text)
                kinds.append(name)
            out.append((texts, valid, kinds))
        return out

    def __call__(self, items: Sequence[dict[str, Any]]) -> dict[str, Any]:
        records = []
        for item in items:
            key, text = str(item["id"]), item["text"]
            if not text or not text.strip():
                raise CollatorError(f"record {key!r} has an empty report")
            records.append((key, self.parsed(key, text)))
        negatives = self.negatives(records) if self.k else [([], [], []) for _ in records]
        texts: list[str] = []
        valid: list[list[bool]] = []
        kinds: list[list[str]] = []
        for (_, report), (negative_texts, negative_valid, negative_kinds) in zip(records, negatives):
            texts += [report.text, *negative_texts]
            valid.append([True, *negative_valid])
            kinds.append(negative_kinds)
        encoded = tokenize_reports(self.tokenizer, texts, self.max_length, pad_to_multiple_of=self.pad_to_multiple_of)
        shape = (len(items), 1 + self.k, -1)
        batch = {
            "images": torch.stack([item["image"] for item in items]),
            **{name: tensor.view(shape) for name, tensor in encoded.items()},
            "neg_valid": torch.tensor(valid, dtype=torch.bool),
            "ids": [str(item["id"]) for item in items],
            "kinds": kinds,
        }
        reports = [report for _, report in records]
        for part in self.parts:
            batch.update(part(items, reports, self.tokenizer))
        return batch
