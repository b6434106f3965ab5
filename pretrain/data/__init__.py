"""Image–report pairs: manifests, splits, adapters for public datasets and a torch
`ManifestDataset`.

Torch is imported only when `ManifestDataset`, `collate_pairs` or `XrayTransform` is used, so
reading manifests and the CLI stay light.
"""

from __future__ import annotations

from typing import Any

from pretrain.data.manifest import ManifestError, ManifestRow, read_manifest, write_manifest
from pretrain.data.splits import assign_split

_TORCH_EXPORTS = {
    "ManifestDataset": "pretrain.data.dataset",
    "collate_pairs": "pretrain.data.dataset",
    "XrayTransform": "pretrain.data.transforms",
}


def __getattr__(name: str) -> Any:
    if name in _TORCH_EXPORTS:
        from importlib import import_module

        return getattr(import_module(_TORCH_EXPORTS[name]), name)
    raise AttributeError(f"module 'pretrain.data' has no attribute {name!r}")


__all__ = ["ManifestDataset", "ManifestError", "ManifestRow", "XrayTransform", "assign_split",
           "collate_pairs", "read_manifest", "write_manifest"]
