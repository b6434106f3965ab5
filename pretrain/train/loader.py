"""The epoch's DataLoader: a shuffled (distributed) order that can start mid-epoch, and image
augmentation seeded per (seed, epoch, sample) — so a resumed run sees exactly the batches an
uninterrupted one would, whatever the number of workers."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterator

import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler

from pretrain.train.collator import PerturbationCollator
from pretrain.train.config import TrainConfig


def sample_seed(seed: int, epoch: int, index: int) -> int:
    digest = hashlib.blake2b(f"{seed}:{epoch}:{index}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1


class SeededItems(Dataset):
    """Item i of epoch e is made under torch's RNG seeded from (seed, e, i); the caller's RNG
    state is left untouched (so dropout draws do not depend on data loading either)."""

    def __init__(self, dataset: Dataset, seed: int) -> None:
        self.dataset = dataset
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, index: int):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(sample_seed(self.seed, self.epoch, index))
            return self.dataset[index]


class SkipSampler(Sampler[int]):
    """The first `skip` indices of `sampler` left out: resuming mid-epoch without loading the
    batches already trained on."""

    def __init__(self, sampler: Sampler[int], skip: int) -> None:
        self.sampler = sampler
        self.skip = skip

    def __iter__(self) -> Iterator[int]:
        return itertools.islice(iter(self.sampler), self.skip, None)

    def __len__(self) -> int:
        return max(0, len(self.sampler) - self.skip)  # type: ignore[arg-type]


def epoch_loader(
    items: SeededItems,
    sampler: DistributedSampler,
    collator: PerturbationCollator,
    config: TrainConfig,
    epoch: int,
    skip_batches: int,
    pin_memory: bool,
) -> DataLoader:
    """This rank's loader for `epoch`, starting after `skip_batches` batches. Workers are made
    anew each epoch so that they copy the collator and items with the new epoch set."""
    sampler.set_epoch(epoch)
    collator.set_epoch(epoch)
    items.set_epoch(epoch)
    workers = config.num_workers
    return DataLoader(
        items,
        batch_size=config.batch_size,
        sampler=SkipSampler(sampler, skip_batches * config.batch_size),
        collate_fn=collator,
        num_workers=workers,
        pin_memory=pin_memory,
        drop_last=True,
        prefetch_factor=4 if workers else None,
        # the loader's own generator: creating an iterator must not consume the global RNG
        generator=torch.Generator().manual_seed(sample_seed(config.seed, epoch, -1)),
    )
