"""Fine-tune a text encoder on sentence-pair NLI (MedNLI / RadNLI JSONL) and score it.

This measures what pretraining did to the text encoder on its own: a model that learned what
reports say (negation, laterality, which finding goes with which place) should need less data to
tell entailment from contradiction. Rows are `premise, hypothesis, label` (MedNLI's `sentence1,
sentence2, gold_label` are accepted too); malformed rows are counted and skipped, not fatal.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from perturb.errors import DataError
from perturb.parser import unicode_problem

NLI_LABELS = ("entailment", "neutral", "contradiction")
_FIELDS = {"premise": ("premise", "sentence1"), "hypothesis": ("hypothesis", "sentence2"),
           "label": ("label", "gold_label")}


class NLIError(DataError):
    """Bad NLI input or encoder directory; the message is one line meant for the user."""


@dataclass(frozen=True)
class NLIPair:
    premise: str
    hypothesis: str
    label: int


@dataclass(frozen=True)
class NLIConfig:
    epochs: int = 3
    lr: float = 3e-5
    batch_size: int = 16
    max_length: int = 128
    weight_decay: float = 0.01
    warmup_fraction: float = 0.1
    seed: int = 0
    device: str = "cpu"


@dataclass
class NLIResult:
    accuracy: float
    macro_f1: float
    per_class_f1: dict[str, float]
    confusion: list[list[int]]
    n_train: int
    n_test: int
    losses: list[float] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def _pick(row: dict, name: str) -> object:
    for key in _FIELDS[name]:
        if key in row:
            return row[key]
    return None


def load_nli(path: str | Path) -> tuple[list[NLIPair], int]:
    """Pairs from a JSONL file and the number of rejected lines (bad JSON or UTF-8, missing or empty
    text, a lone surrogate, unknown label). Raises `NLIError` when the file is missing or holds no valid pair."""
    path = Path(path)
    if not path.is_file():
        raise NLIError(f"NLI file not found: {path}")
    pairs: list[NLIPair] = []
    rejects = 0
    with path.open("rb") as lines:  # decoded line by line: one undecodable line costs one row
        for raw in lines:
            if not raw.strip():
                continue
            try:
                row = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError):
                rejects += 1
                continue
            if not isinstance(row, dict):
                rejects += 1
                continue
            premise, hypothesis, label = (_pick(row, f) for f in ("premise", "hypothesis", "label"))
            label = label.strip().lower() if isinstance(label, str) else None
            if (
                not isinstance(premise, str) or not premise.strip() or unicode_problem(premise)
                or not isinstance(hypothesis, str) or not hypothesis.strip() or unicode_problem(hypothesis)
                or label not in NLI_LABELS
            ):
                rejects += 1
                continue
            pairs.append(NLIPair(premise, hypothesis, NLI_LABELS.index(label)))
    if not pairs:
        raise NLIError(f"no valid NLI pairs in {path} ({rejects} rejected rows)")
    return pairs, rejects


def find_encoder_dir(path: str | Path) -> Path:
    """A transformers model folder: `path` itself, or the text encoder a pretraining run exported
    (`path/text_encoder`, `path/final/text_encoder`), so a run folder can be passed as is."""
    path = Path(path)
    for candidate in (path, path / "text_encoder", path / "final" / "text_encoder"):
        if (candidate / "config.json").is_file():
            return candidate
    raise NLIError(f"not a transformers model directory nor a run folder (no config.json): {path}")


def load_encoder(encoder_dir: str | Path):
    """The transformers encoder and tokenizer saved in `encoder_dir` or the run folder holding
    it (see `find_encoder_dir`)."""
    from transformers import AutoModel, AutoTokenizer

    encoder_dir = find_encoder_dir(encoder_dir)
    try:
        tokenizer = AutoTokenizer.from_pretrained(encoder_dir, local_files_only=True)
        encoder = AutoModel.from_pretrained(encoder_dir, local_files_only=True)
    except (OSError, ValueError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise NLIError(f"cannot load encoder from {encoder_dir}: {first}") from None
    return encoder, tokenizer


def _classifier(encoder):
    import torch

    class NLIClassifier(torch.nn.Module):
        """Mean-pooled encoder states → dropout → linear layer over the three labels."""

        def __init__(self) -> None:
            super().__init__()
            self.encoder = encoder
            self.dropout = torch.nn.Dropout(0.1)
            self.head = torch.nn.Linear(encoder.config.hidden_size, len(NLI_LABELS))

        def forward(self, input_ids, attention_mask, **extra):
            states = self.encoder(
                input_ids=input_ids, attention_mask=attention_mask, **extra
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(states.dtype)
            pooled = (states * mask).sum(1) / mask.sum(1).clamp(min=1.0)
            return self.head(self.dropout(pooled))

    return NLIClassifier()


def _batches(tokenizer, pairs: Sequence[NLIPair], order: Sequence[int], config: NLIConfig):
    import torch

    for start in range(0, len(order), config.batch_size):
        chunk = [pairs[i] for i in order[start : start + config.batch_size]]
        encoded = tokenizer(
            [p.premise for p in chunk],
            [p.hypothesis for p in chunk],
            truncation=True,
            max_length=config.max_length,
            padding=True,
            return_tensors="pt",
        )
        encoded = {k: v.to(config.device) for k, v in encoded.items()}
        yield encoded, torch.tensor([p.label for p in chunk], device=config.device)


def fine_tune_nli(
    encoder_dir: str | Path,
    train: Sequence[NLIPair],
    test: Sequence[NLIPair],
    config: NLIConfig = NLIConfig(),
    on_step: Callable[[int, int, float], None] | None = None,
) -> NLIResult:
    """Fine-tune the whole encoder plus a linear head with AdamW (linear warm-up and decay), then
    report accuracy, macro-F1 and the confusion matrix (rows true, columns predicted) on `test`.
    `on_step(step, total_steps, loss)` reports progress."""
    import numpy as np
    import torch
    from sklearn.metrics import confusion_matrix, f1_score

    torch.manual_seed(config.seed)
    encoder, tokenizer = load_encoder(encoder_dir)
    model = _classifier(encoder).to(config.device)
    steps_per_epoch = math.ceil(len(train) / config.batch_size)
    total = max(1, steps_per_epoch * config.epochs)
    warmup = int(total * config.warmup_fraction)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda s: (s + 1) / (warmup + 1) if s < warmup else max(0.0, (total - s) / (total - warmup)),
    )
    generator = torch.Generator().manual_seed(config.seed)
    losses: list[float] = []
    model.train()
    for _ in range(config.epochs):
        order = torch.randperm(len(train), generator=generator).tolist()
        for inputs, labels in _batches(tokenizer, train, order, config):
            loss = torch.nn.functional.cross_entropy(model(**inputs), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            losses.append(loss.item())
            if on_step is not None:
                on_step(len(losses), total, losses[-1])
    model.eval()
    predictions: list[int] = []
    with torch.no_grad():
        for inputs, _ in _batches(tokenizer, test, range(len(test)), config):
            predictions.extend(model(**inputs).argmax(-1).tolist())
    truth = np.array([p.label for p in test])
    predicted = np.array(predictions)
    classes = list(range(len(NLI_LABELS)))
    per_class = f1_score(truth, predicted, labels=classes, average=None, zero_division=0)
    return NLIResult(
        accuracy=float(np.mean(truth == predicted)),
        macro_f1=float(np.mean(per_class)),
        per_class_f1={name: float(f) for name, f in zip(NLI_LABELS, per_class)},
        confusion=confusion_matrix(truth, predicted, labels=classes).tolist(),
        n_train=len(train),
        n_test=len(test),
        losses=losses,
    )
