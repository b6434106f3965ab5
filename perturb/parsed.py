"""`ParsedReport`: a spaCy-free, picklable record of one parse.

Training workers load these from a cache and perturb them at every step, so the record holds plain
tuples only and derives the index structures the perturbations need once, lazily (`layout`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from perturb.errors import DataError
from perturb.layout import Layout


@dataclass(frozen=True, eq=False)
class ParsedReport:
    """One parsed report: tokens, trailing whitespace, tags and sentence structure.

    `heads` are absolute token indices (a root points at itself); `deps` are empty strings when the
    parse used a sentence recogniser instead of the dependency parser.
    """

    tokens: tuple[str, ...]
    whitespace: tuple[str, ...]
    tags: tuple[str, ...]
    pos: tuple[str, ...]
    sent_ids: tuple[int, ...]
    heads: tuple[int, ...] = ()
    deps: tuple[str, ...] = ()
    model: str = ""
    model_version: str = ""
    _cache: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        n = len(self.tokens)
        lengths = {
            "whitespace": len(self.whitespace),
            "tags": len(self.tags),
            "pos": len(self.pos),
            "sent_ids": len(self.sent_ids),
        }
        if self.heads:
            lengths["heads"] = len(self.heads)
        if self.deps:
            lengths["deps"] = len(self.deps)
        bad = {k: v for k, v in lengths.items() if v != n}
        if bad:
            raise DataError(f"ParsedReport has {n} tokens but field lengths {bad}")

    def __len__(self) -> int:
        return len(self.tokens)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ParsedReport):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash((self.tokens, self.whitespace, self.tags, self.pos, self.sent_ids))

    def __getstate__(self) -> dict[str, Any]:
        state = {k: getattr(self, k) for k in self.to_dict()}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        for key, value in state.items():
            object.__setattr__(self, key, value)
        object.__setattr__(self, "_cache", {})

    @property
    def layout(self) -> Layout:
        """Index structures shared by every perturbation, built on first use."""
        layout = self._cache.get("layout")
        if layout is None:
            layout = self._cache["layout"] = Layout(self)
        return layout

    @property
    def text(self) -> str:
        """The report rendered by the same rule as its perturbations."""
        return self.layout.text

    @property
    def n_sentences(self) -> int:
        return len(set(self.sent_ids))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form (lists, strings, ints) for caches and corpora."""
        return {
            "tokens": list(self.tokens),
            "whitespace": list(self.whitespace),
            "tags": list(self.tags),
            "pos": list(self.pos),
            "sent_ids": list(self.sent_ids),
            "heads": list(self.heads),
            "deps": list(self.deps),
            "model": self.model,
            "model_version": self.model_version,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ParsedReport":
        return cls(
            tokens=tuple(data["tokens"]),
            whitespace=tuple(data["whitespace"]),
            tags=tuple(data["tags"]),
            pos=tuple(data["pos"]),
            sent_ids=tuple(data["sent_ids"]),
            heads=tuple(data.get("heads", ())),
            deps=tuple(data.get("deps", ())),
            model=data.get("model", ""),
            model_version=data.get("model_version", ""),
        )
