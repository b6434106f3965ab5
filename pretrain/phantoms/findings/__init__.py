"""Drawable findings: what the phantom draws, the MeSH vocabulary that names them, and the plan."""

from __future__ import annotations

from typing import Iterable

from pretrain.data.tags import parse_tag
from pretrain.phantoms.findings import devices, parenchyma, pleura, shape, skeleton  # noqa: F401
from pretrain.phantoms.findings.registry import DRAWABLE_FINDINGS, DrawableFinding, Plan, make_plan, register
from pretrain.phantoms.findings.vocabulary import classify

register("normal", "normal")


def plan_findings(tags: Iterable[str], seed: int) -> Plan:
    """The findings to draw for `tags`, and the tags none of them shows."""
    return make_plan(tags, seed, classify)


def drawable(raw: str) -> bool:
    """Whether the phantom can show the tag `raw`."""
    return classify(parse_tag(raw)) is not None


__all__ = ["DRAWABLE_FINDINGS", "DrawableFinding", "Plan", "classify", "drawable", "plan_findings"]
