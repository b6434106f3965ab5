"""The training objective on one batch: the weighted sum of the active loss terms
(`pretrain.train.terms`), shared by the trainer and the GPU benchmark so that both measure the
same computation.

`Objective` is the module DDP wraps: the model's forward and every term run inside its forward,
so each parameter a term uses (its own temperature too) is used through the wrapped forward,
which DDP requires; and the parameters only an inactive term would train are frozen
(`Objective.activate`), so DDP holds no parameter that never gets a gradient.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import torch
from torch import nn

from pretrain.model.dual_encoder import FEATURES, LOCAL_FEATURES, RAW_FEATURES, PretrainModel
from pretrain.train.config import ConfigError
from pretrain.train.terms import TERMS, LossTerm


def to_device(batch: dict[str, Any], device: torch.device) -> dict[str, Any]:
    """The collator's batch with its tensors on `device` (pinned host memory copies
    asynchronously); images channels-last on GPU, where bf16 convolutions run fastest in that
    layout. Other entries (ids, kind names) are passed on as they are."""
    out = {k: v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}
    if device.type == "cuda":
        out["images"] = out["images"].contiguous(memory_format=torch.channels_last)
    return out


def compute_losses(model: PretrainModel, terms: Sequence[LossTerm], batch: dict[str, Any]) -> dict[str, torch.Tensor]:
    """Forward `model` once for what the terms read; returns the weighted total `loss`, then
    each term's unweighted loss and its metrics, by name."""
    features = set().union(*(term.features for term in terms))
    out = model(batch["images"], batch["input_ids"], batch["attention_mask"], batch["word_ids"],
                need_local=bool(features & LOCAL_FEATURES), need_raw=bool(features & RAW_FEATURES))
    total = out["image_global"].new_zeros((), dtype=torch.float32)
    values: dict[str, torch.Tensor] = {}
    for term in terms:
        missing = [key for key in term.batch_keys if key not in batch]
        if missing:
            raise ConfigError(f"loss term {term.name!r} needs batch entries {', '.join(missing)} that the "
                              "collator did not make")
        result = term(out, batch, model)
        total = total + term.weight * result.loss
        values[term.name] = result.loss
        values.update(result.metrics)
    return {"loss": total, **values}


class Objective(nn.Module):
    """`model` and its loss terms in one forward: `objective(batch)` → the `compute_losses`
    values of the active terms (all of them unless `activate` says otherwise)."""

    def __init__(self, model: PretrainModel, terms: Sequence[LossTerm]) -> None:
        super().__init__()
        if not terms:
            raise ConfigError("no loss term is on")
        for term in terms:
            unknown = sorted(term.features - FEATURES)
            if unknown:
                raise ConfigError(f"loss term {term.name!r} reads {', '.join(unknown)}, which the model does not "
                                  f"give (it gives {', '.join(sorted(FEATURES))})")
        # The terms first: their parameters then come before the model's, in the order the model
        # held the temperatures before the terms owned them, so clipping sums the gradient norm,
        # and the optimizer lists its parameters, as they always did.
        self.terms = nn.ModuleDict({term.name: term for term in terms})
        self.model = model
        self.activate(self.terms)

    def activate(self, names: Iterable[str]) -> None:
        """Sum only the terms `names` from now on (a staged objective switches them between
        stages, then rebuilds its optimizer and DDP wrapper), and train only their parameters:
        the model's heads that no active term trains and the inactive terms' own parameters are
        frozen (the encoders are left as they are)."""
        wanted = set(names)
        self.active = [name for name in self.terms if name in wanted]
        used = tuple(prefix for name in self.active for prefix in self.terms[name].model_parameters)
        classes = {*TERMS.values(), *map(type, self.terms.values())}
        claimed = tuple(prefix for cls in classes for prefix in cls.model_parameters)
        for name, param in self.model.named_parameters():
            if name.startswith(claimed):
                param.requires_grad_(name.startswith(used))
        for name, term in self.terms.items():
            term.requires_grad_(name in wanted)

    def forward(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        return compute_losses(self.model, [self.terms[name] for name in self.active], batch)

    def logged(self) -> dict[str, float]:
        """Every term's values for the metrics row (their temperatures)."""
        return {key: value for term in self.terms.values() for key, value in term.logged().items()}
