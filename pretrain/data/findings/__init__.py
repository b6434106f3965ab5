"""Drawable findings: the kinds, the MeSH vocabulary that names them, and the drawing plan."""

from __future__ import annotations

from typing import Iterable, Sequence

from pretrain.data.findings import devices, parenchyma, pleura, shape, skeleton  # noqa: F401
from pretrain.data.findings.registry import KINDS, Kind, Plan, make_plan, register
from pretrain.data.findings.vocabulary import classify
from pretrain.data.tags import parse_tag

register("normal", "normal")


def plan_findings(tags: Iterable[str], seed: int, streams: Sequence[str] | None = None) -> Plan:
    """The findings to draw for `tags`, and the tags no kind can draw (`streams`: see
    `make_plan`)."""
    return make_plan(tags, seed, classify, streams)


def drawable(raw: str) -> bool:
    """Whether the phantom can show the tag `raw`."""
    return classify(parse_tag(raw)) is not None


__all__ = ["KINDS", "Kind", "Plan", "classify", "drawable", "plan_findings"]
