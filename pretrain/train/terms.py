"""Loss terms: each weighted part of the pretraining objective is a small registered object.

A term is an `nn.Module` that says what it reads — features of the model's forward (`features`,
from `pretrain.model.dual_encoder.FEATURES`), entries of the batch (`batch_keys`, which its
`collate` may add in the DataLoader workers), the model's heads it trains (`model_parameters`) —
owns its own parameters (a learnable temperature, a head of its own), and returns its unweighted
loss and its metrics. `Objective` sums the active terms with their weights and logs each by name.
A module that several terms share (a decoder that captions and summarises) is given to each of
them, or is a module of the model that their `model_parameters` name.

A term registers as a perturbation does: `@register_term` on the class, whose `from_config`
builds it for a `TrainConfig` or returns None when the config leaves it off. A term left off is
never built, so it owns no parameter anywhere (DDP refuses parameters without a gradient).

The built-in terms, in this order: L = L_global + α·L_local + β·L_pert.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import nn

from perturb.seeding import key_hash
from pretrain.model.losses import (
    INIT_TEMPERATURE,
    global_loss,
    local_loss,
    logit_scale,
    perturbation_accuracy,
    perturbation_loss,
)
from pretrain.train.collator import BatchPart


@dataclass
class TermOutput:
    """A term's unweighted scalar loss and its metrics (detached, logged by name)."""

    loss: torch.Tensor
    metrics: dict[str, torch.Tensor] = field(default_factory=dict)


class LossTerm(nn.Module):
    """One term of the objective. Subclasses set the class attributes and write `forward` and
    `from_config`; `weight` may be changed between steps (a schedule), `Objective.activate`
    switches whole terms on and off."""

    #: The name its loss is logged under (and registered by).
    name: ClassVar[str]
    #: Features of `PretrainModel.forward` it reads.
    features: ClassVar[frozenset[str]] = frozenset()
    #: Batch entries it reads beyond `images`, `input_ids`, `attention_mask` and `word_ids`.
    batch_keys: ClassVar[tuple[str, ...]] = ()
    #: The model's parameters it trains, by name prefix (its heads); heads no active term trains
    #: are frozen.
    model_parameters: ClassVar[tuple[str, ...]] = ()
    #: Names of the metrics its `forward` returns.
    metrics: ClassVar[tuple[str, ...]] = ()
    #: Entries it needs the collator to add to each batch, if any.
    collate: ClassVar[BatchPart | None] = None

    def __init__(self, weight: float = 1.0) -> None:
        super().__init__()
        self.weight = float(weight)

    @classmethod
    def from_config(cls, config) -> LossTerm | None:
        """The term for a `TrainConfig`, or None when the config leaves it off."""
        raise NotImplementedError

    def forward(self, features: Mapping[str, torch.Tensor], batch: Mapping[str, Any], model: nn.Module) -> TermOutput:
        raise NotImplementedError

    def logged(self) -> dict[str, float]:
        """Values for each metrics row beside the losses (its temperature, say)."""
        return {}


#: Registered terms by name, in the order their losses are summed and logged.
TERMS: dict[str, type[LossTerm]] = {}


def register_term(cls: type[LossTerm]) -> type[LossTerm]:
    """Class decorator: add a loss term; names are unique."""
    if cls.name in TERMS:
        raise ValueError(f"loss term {cls.name!r} is already registered")
    TERMS[cls.name] = cls
    return cls


def build_terms(config) -> list[LossTerm]:
    """The terms `config` turns on, in registration order."""
    built = (cls.from_config(config) for cls in TERMS.values())
    return [term for term in built if term is not None]


def learnable_temperature() -> nn.Parameter:
    """A term's own log(1/temperature), initialised as CLIP's (the losses clamp it at 1/0.01)."""
    return nn.Parameter(torch.tensor(math.log(1 / INIT_TEMPERATURE)))


def temperature(log_scale: torch.Tensor) -> float:
    """The temperature a learnable log-scale stands for now."""
    return 1 / float(logit_scale(log_scale.detach()))


_GLOBAL_HEADS = ("image_global_head.", "text_global_head.")


def group_keys(values: Iterable[str]) -> torch.Tensor:
    """[N] int64 hashes of strings, equal across processes: `global_loss`'s groups."""
    return torch.tensor([key_hash(value) >> 65 for value in values], dtype=torch.long)


def tag_set_keys(items: Sequence[dict[str, Any]], reports, tokenizer) -> dict[str, torch.Tensor]:
    """`tags_key` [B]: which records share a tag set (a collator part of `GlobalTerm` with
    tag-set positives; the order of the tags does not matter)."""
    return {"tags_key": group_keys("\n".join(sorted(set(item.get("tags", ())))) for item in items)}


@register_term
class GlobalTerm(LossTerm):
    """Symmetric InfoNCE between each image and its report (CLIP), with its own temperature.
    With `positives="tags"`, pairs whose records share a tag set are positives of each other
    (`global_loss(groups=...)`): on templated reports, different wordings of one finding are not
    pushed apart as negatives."""

    name = "global"
    features = frozenset({"image_global", "text_global"})
    model_parameters = _GLOBAL_HEADS

    def __init__(self, weight: float = 1.0, *, positives: str = "pair") -> None:
        super().__init__(weight)
        self.log_scale = learnable_temperature()
        self.positives = positives
        if positives == "tags":
            self.batch_keys = ("tags_key",)
            self.collate = tag_set_keys

    @classmethod
    def from_config(cls, config) -> GlobalTerm | None:
        return cls(positives=config.positives) if config.use_global else None

    def forward(self, features, batch, model) -> TermOutput:
        groups = batch["tags_key"] if self.positives == "tags" else None
        return TermOutput(global_loss(features["image_global"], features["text_global"][:, 0], self.log_scale,
                                      groups=groups))

    def logged(self) -> dict[str, float]:
        return {"temp_global": temperature(self.log_scale)}


@register_term
class LocalTerm(LossTerm):
    """GLoRIA's attentive word–region loss, weighted α."""

    name = "local"
    features = frozenset({"image_local", "words", "word_mask"})
    model_parameters = ("image_local_head.", "text_local_head.")

    def __init__(self, weight: float, *, temp1: float, temp2: float, temp3: float) -> None:
        super().__init__(weight)
        self.temp1, self.temp2, self.temp3 = temp1, temp2, temp3

    @classmethod
    def from_config(cls, config) -> LocalTerm | None:
        if not config.use_local:
            return None
        return cls(config.alpha, temp1=config.temp1, temp2=config.temp2, temp3=config.temp3)

    def forward(self, features, batch, model) -> TermOutput:
        return TermOutput(local_loss(features["image_local"], features["words"], features["word_mask"],
                                     temp1=self.temp1, temp2=self.temp2, temp3=self.temp3))


@register_term
class PerturbationTerm(LossTerm):
    """Each image picks its original report among its K perturbed versions, weighted β, with its
    own temperature; its metric is how often the original ranks first."""

    name = "pert"
    features = frozenset({"image_global", "text_global"})
    batch_keys = ("neg_valid",)
    model_parameters = _GLOBAL_HEADS
    metrics = ("pert_acc",)

    def __init__(self, weight: float) -> None:
        super().__init__(weight)
        self.log_scale = learnable_temperature()

    @classmethod
    def from_config(cls, config) -> PerturbationTerm | None:
        return cls(config.beta) if config.use_pert else None

    def forward(self, features, batch, model) -> TermOutput:
        image, texts, valid = features["image_global"], features["text_global"], batch["neg_valid"]
        loss = perturbation_loss(image, texts, valid, self.log_scale)
        with torch.no_grad():
            accuracy = perturbation_accuracy(image, texts, valid)
        return TermOutput(loss, {"pert_acc": accuracy})

    def logged(self) -> dict[str, float]:
        return {"temp_pert": temperature(self.log_scale)}


# Terms of further objectives register themselves on import (after the base class above exists).
import pretrain.hybridmed.loss_terms  # noqa: E402,F401  (HybridMED: cg, cl, sum, cap, dis)
import pretrain.place.terms  # noqa: E402,F401  (PLACE: pcma, cce)
