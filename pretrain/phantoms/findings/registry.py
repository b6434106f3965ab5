"""The drawable findings, and the plan that turns a report's tags into findings to draw.

A drawable finding may `adjust` the anatomy before it is drawn (a bigger heart, lower domes) and/or `draw`
on the canvas afterwards (fluid, nodules, devices). Each planned finding has its own random stream
derived from the seed and its tag, so adding a tag never changes how the others look.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Callable, Iterable

import numpy as np

from pretrain.data.tags import Tag, parse_tag
from pretrain.phantoms.anatomy import Anatomy
from pretrain.phantoms.canvas import Canvas

Adjust = Callable[[Tag, Anatomy], None]
Draw = Callable[[Tag, Canvas, np.random.Generator], None]


@dataclass(frozen=True)
class DrawableFinding:
    """A finding the phantom can draw. `example` is a tag that shows it (used by the gallery)."""

    name: str
    example: str
    adjust: Adjust | None = None
    draw: Draw | None = None


DRAWABLE_FINDINGS: dict[str, DrawableFinding] = {}


def register(name: str, example: str, *, adjust: Adjust | None = None,
             draw: Draw | None = None) -> None:
    """Add a drawable finding; names are unique."""
    if name in DRAWABLE_FINDINGS:
        raise ValueError(f"drawable finding {name!r} is already registered")
    DRAWABLE_FINDINGS[name] = DrawableFinding(name, example, adjust, draw)


@dataclass(frozen=True)
class PlannedFinding:
    drawable: DrawableFinding
    tag: Tag
    seed: int

    def adjust(self, anatomy: Anatomy) -> None:
        if self.drawable.adjust is not None:
            self.drawable.adjust(self.tag, anatomy)

    def draw(self, canvas: Canvas) -> None:
        if self.drawable.draw is not None:
            self.drawable.draw(self.tag, canvas, np.random.default_rng(self.seed))


@dataclass(frozen=True)
class Plan:
    findings: tuple[PlannedFinding, ...]
    ignored: tuple[str, ...]


def make_plan(tags: Iterable[str], seed: int,
                  classify: Callable[[Tag], str | None]) -> Plan:
    """Classify each tag; the ones no drawable finding shows are returned in `ignored`."""
    findings: list[PlannedFinding] = []
    ignored: list[str] = []
    seen: dict[str, int] = {}
    for raw in tags:
        tag = parse_tag(raw)
        name = classify(tag)
        if name is None:
            ignored.append(raw)
            continue
        seen[raw] = seen.get(raw, 0) + 1
        digest = hashlib.blake2b(f"{seed}:{raw}:{seen[raw]}".encode(), digest_size=8)
        findings.append(PlannedFinding(DRAWABLE_FINDINGS[name], tag, int.from_bytes(digest.digest(), "little")))
    return Plan(tuple(findings), tuple(ignored))


def severity(tag: Tag, default: float = 1.5) -> float:
    """The tag's severity on the 0.6 (borderline) … 3 (severe/large) scale."""
    return default if tag.severity is None else tag.severity


def named_sides(tag: Tag) -> tuple[str, ...]:
    """The sides the tag names, or implies by a lobe that exists on one side only."""
    if tag.sides:
        return tag.sides
    if tag.has("lingula") or tag.has("retrocardiac"):
        return ("left",)
    if tag.has("middle lobe"):
        return ("right",)
    return ()


def sides(tag: Tag, default: str, rng: np.random.Generator) -> tuple[str, ...]:
    """The sides a finding is drawn on: the named ones, else `default` ("bilateral", "right",
    "left", or "random": one side drawn from `rng`)."""
    named = named_sides(tag)
    if named:
        return named
    if default == "bilateral":
        return ("right", "left")
    if default == "random":
        return (("right", "left")[int(rng.integers(2))],)
    return (default,)
