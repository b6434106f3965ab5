"""Apply registered perturbations to parsed reports and render the results."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from perturb.casing import render_like
from perturb.parsed import ParsedReport
from perturb.registry import get, resolve_kinds
from perturb.seeding import stream

SCOPES = ("report", "sentence")
#: How often a draw that reproduces the original is redrawn before giving up.
MAX_REDRAWS = 8


@dataclass(frozen=True)
class Replacement:
    position: int
    old: str
    new: str


@dataclass(frozen=True)
class PerturbationResult:
    """One negative. When `applicable` is False, `text` is the original and nothing moved."""

    kind: str
    text: str
    tokens: tuple[str, ...]
    applicable: bool
    source_index: tuple[int, ...]
    replacements: tuple[Replacement, ...] = ()
    draw: int = 0

    @property
    def moved(self) -> tuple[int, ...]:
        """Output positions whose word came from elsewhere."""
        return tuple(i for i, j in enumerate(self.source_index) if i != j)


def render(
    report: ParsedReport, source_index: Sequence[int], replacements: Mapping[int, str] = {}
) -> list[str]:
    """Output tokens: the word from `source_index[i]` (or its replacement) in position i's case."""
    layout = report.layout
    forms = layout.forms
    tokens = [forms[j].upper if c else forms[j].lower for j, c in zip(source_index, layout.capital)]
    for i, word in replacements.items():
        original = report.tokens[i]
        shout = original.isupper() and len(original) > 1
        tokens[i] = word.upper() if shout else render_like(word, layout.capital[i])
    return tokens


def _not_applicable(report: ParsedReport, kind: str, draw: int) -> PerturbationResult:
    layout = report.layout
    tokens = tuple(f.upper if c else f.lower for f, c in zip(layout.forms, layout.capital))
    return PerturbationResult(kind, layout.text, tokens, False, layout.identity, (), draw)


def apply(
    report: ParsedReport,
    name: str,
    *,
    seed: int,
    scope: str = "report",
    key: object = None,
    draw: int = 0,
) -> PerturbationResult:
    """Perturb `report` with the registered perturbation `name`.

    The random stream is derived from (seed, key, name, draw); `key` defaults to the report text,
    so pass the record id when two records may share a text but should get different negatives.
    A result is never a copy of the original: a draw that reproduces it is redrawn (bounded), and
    if none differs the result says `applicable=False`.
    """
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}: expected one of {SCOPES}")
    spec = get(name)
    layout = report.layout
    if not layout.words:
        return _not_applicable(report, name, draw)
    rng = stream(seed, layout.text if key is None else key, name, draw)
    whitespace = report.whitespace
    for _ in range(1 if spec.deterministic else MAX_REDRAWS):
        edit = spec.fn(report, rng, scope)
        if edit is None:
            break
        source_index, replacements = edit
        tokens = render(report, source_index, replacements)
        text = "".join([t + w for t, w in zip(tokens, whitespace)])
        if text != layout.text:
            made = tuple(
                Replacement(i, report.tokens[i], tokens[i]) for i in sorted(replacements)
            )
            return PerturbationResult(
                name, text, tuple(tokens), True, tuple(source_index), made, draw
            )
    return _not_applicable(report, name, draw)


def apply_many(
    report: ParsedReport,
    kinds: Iterable[str] | str | None = None,
    *,
    seed: int,
    draws: int = 1,
    scope: str = "report",
    key: object = None,
) -> list[PerturbationResult]:
    """Every requested kind (default: all registered), `draws` draws each, in kind-major order.
    Each result equals the matching single `apply` call, whatever else is in the batch."""
    return [
        apply(report, name, seed=seed, scope=scope, key=key, draw=d)
        for name in resolve_kinds(kinds)
        for d in range(draws)
    ]
