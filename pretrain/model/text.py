"""The one tokenisation of report texts, shared by training, evaluation and `explain`, so that a
text is scored exactly as the model saw it in training."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from pretrain.model.encoders import EncoderError


def tokenize_reports(
    tokenizer, texts: Sequence[str], max_length: int, *, pad_to_multiple_of: int | None = None
) -> dict[str, torch.Tensor]:
    """Tokenize texts in one call, padded to the longest: input_ids, attention_mask and
    word_ids [N, L] (the word index of each sub-word token, -1 for special and pad tokens)."""
    if not getattr(tokenizer, "is_fast", False):
        raise EncoderError("word ids need a fast (Rust) tokenizer")
    encoded = tokenizer(
        list(texts),
        padding="longest",
        truncation=True,
        max_length=max_length,
        pad_to_multiple_of=pad_to_multiple_of,
        return_tensors="pt",
    )
    word_ids = torch.tensor(
        [[-1 if w is None else w for w in encoded.word_ids(i)] for i in range(len(texts))], dtype=torch.long
    )
    return {"input_ids": encoded["input_ids"], "attention_mask": encoded["attention_mask"], "word_ids": word_ids}
