"""Embeddings of a manifest split's images and of arbitrary texts with a trained model.

Texts go through `pretrain.model.text.tokenize_reports`, the tokenisation that training used, so
that a perturbed report is scored exactly as the model would have seen it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class EncodedImages:
    """Global image embeddings of a split, row-aligned with the records' ids, texts and tags."""

    embeddings: np.ndarray
    ids: list[str]
    texts: list[str]
    tags: list[list[str]]


def encode_images(
    model,
    dataset,
    *,
    batch_size: int = 32,
    device: str = "cpu",
    on_batch: Callable[[int], None] | None = None,
) -> EncodedImages:
    """Global embeddings of every item of a `ManifestDataset`, in dataset order.
    `on_batch(n_items)` reports progress."""
    import torch
    from torch.utils.data import DataLoader

    from pretrain.data import collate_pairs

    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, collate_fn=collate_pairs)
    chunks, ids, texts, tags = [], [], [], []
    with torch.no_grad():
        for batch in loader:
            global_embedding, _ = model.encode_image(batch["image"].to(device))
            chunks.append(global_embedding.float().cpu().numpy())
            ids += batch["id"]
            texts += batch["text"]
            tags += batch["tags"]
            if on_batch is not None:
                on_batch(len(batch["id"]))
    dim = chunks[0].shape[1] if chunks else 0
    return EncodedImages(np.concatenate(chunks) if chunks else np.zeros((0, dim)), ids, texts, tags)


def encode_blank_image(model, *, image_size: int, channels: int, device: str = "cpu") -> np.ndarray:
    """Global embedding [D] of an all-zero input of the model's shape — after standardisation, a
    uniform mid-grey image with no finding in it — the one image of the text-only control."""
    import torch

    with torch.no_grad():
        blank = torch.zeros(1, channels, image_size, image_size, device=device)
        global_embedding, _ = model.encode_image(blank)
    return global_embedding[0].float().cpu().numpy()


def text_embedder(
    model, tokenizer, *, max_length: int, batch_size: int = 64, device: str = "cpu"
) -> Callable[..., np.ndarray]:
    """A function `embed(texts, on_batch=None)` → global text embeddings [N, D] (L2-normalised),
    computed in batches; `on_batch(n_texts)` reports progress."""
    import torch

    from pretrain.model.text import tokenize_reports

    def embed(texts: list[str], on_batch: Callable[[int], None] | None = None) -> np.ndarray:
        chunks = []
        with torch.no_grad():
            for start in range(0, len(texts), batch_size):
                encoded = tokenize_reports(tokenizer, texts[start : start + batch_size], max_length)
                encoded = {k: v.to(device) for k, v in encoded.items()}
                global_embedding, _, _ = model.encode_text(
                    encoded["input_ids"], encoded["attention_mask"], encoded["word_ids"]
                )
                chunks.append(global_embedding.float().cpu().numpy())
                if on_batch is not None:
                    on_batch(len(encoded["input_ids"]))
        return np.concatenate(chunks) if chunks else np.zeros((0, 0))

    return embed
