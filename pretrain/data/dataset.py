"""`ManifestDataset`: image–report pairs from a manifest, as tensors for the trainer.

Rows whose image file is missing are left out when the dataset is made, counted in `.missing`
and reported once as a warning, so a training run does not stop hours in for a deleted file; so
are bad manifest rows (`.rejected`, each `file:line: reason`). With `check_images=True` every
image is also decoded up front and unreadable ones are left out the same way (`.unreadable`).
Without it, an image that turns out unreadable when its item is read is reported (once per
process) and replaced by the next readable item, so that a run is not lost for one bad file.
"""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

import torch
from torch.utils.data import Dataset

from pretrain.data.images import ImageError, load_image
from pretrain.data.manifest import ManifestRow, image_path, read_manifest
from pretrain.data.splits import SPLITS
from pretrain.data.transforms import XrayTransform


class ManifestDataset(Dataset):
    """Items `{"id", "image": float32 [channels, S, S], "text", "tags"}` of one split (or all)."""

    def __init__(self, manifest: str | os.PathLike[str], split: str | None = None,
                 image_size: int = 224, train: bool = False, channels: int = 3,
                 check_images: bool = False) -> None:
        if split is not None and split not in SPLITS:
            raise ValueError(f"split must be one of {', '.join(SPLITS)} or None, got {split!r}")
        if channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, got {channels}")
        self.manifest = Path(manifest)
        self.rejected: list[str] = []
        rows = [r for r in read_manifest(self.manifest, rejects=self.rejected) if split is None or r.split == split]
        self.rows: list[ManifestRow] = []
        self.paths: list[Path] = []
        self.missing: list[str] = []
        self.unreadable: list[str] = []
        for row in rows:
            path = image_path(self.manifest, row)
            if not path.is_file():
                self.missing.append(row.id)
                continue
            if check_images:
                try:
                    load_image(path)
                except ImageError:
                    self.unreadable.append(row.id)
                    continue
            self.rows.append(row)
            self.paths.append(path)
        if self.rejected:
            warnings.warn(f"{self.manifest}: {len(self.rejected)} bad rows left out "
                          f"(first: {self.rejected[0]})", stacklevel=2)
        for what, ids in (("missing", self.missing), ("unreadable", self.unreadable)):
            if ids:
                warnings.warn(f"{self.manifest}: {len(ids)} of {len(rows)} images are {what} "
                              f"and left out (first: {ids[0]})", stacklevel=2)
        self.transform = XrayTransform(image_size, train, channels)
        self._reported: set[int] = set()

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> dict[str, object]:
        for offset in range(len(self.rows)):
            at = (index + offset) % len(self.rows)
            try:
                pixels = load_image(self.paths[at])
            except ImageError as err:
                if at not in self._reported:  # once per process (each DataLoader worker is one)
                    self._reported.add(at)
                    print(f"warning: {err}; row {self.rows[at].id!r} is replaced by the next readable one "
                          "(check_images=True leaves such rows out up front)", file=sys.stderr, flush=True)
                continue
            row = self.rows[at]
            image: torch.Tensor = self.transform(pixels)
            return {"id": row.id, "image": image, "text": row.text, "tags": list(row.tags)}
        raise ImageError(f"{self.manifest}: none of its {len(self.rows)} images can be read")


def collate_pairs(batch: list[dict[str, object]]) -> dict[str, object]:
    """Stack images into [B, C, S, S]; ids, texts and tag lists stay lists (tags vary in
    length, which torch's default collate refuses)."""
    return {"id": [item["id"] for item in batch],
            "image": torch.stack([item["image"] for item in batch]),
            "text": [item["text"] for item in batch],
            "tags": [item["tags"] for item in batch]}
