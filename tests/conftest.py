"""Shared fixtures: one spaCy parser per session, real reports parsed once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_REPORTS = ROOT / "data_samples" / "reports.jsonl"
#: How many Open-I reports the property tests parse (all 3,955 would cost CI a minute).
OPENI_SAMPLE = 300


def _report_text(row: dict) -> str:
    return "\n\n".join(p for p in (row.get("findings", ""), row.get("impression", "")) if p)


@pytest.fixture(scope="session")
def parser():
    from perturb import Parser

    return Parser()


@pytest.fixture(scope="session")
def sample_texts() -> list[str]:
    rows = [json.loads(line) for line in SAMPLE_REPORTS.read_text().splitlines() if line.strip()]
    return [_report_text(r) for r in rows]


@pytest.fixture(scope="session")
def openi_reports():
    """All Open-I reports (`pretrain.data.openi.OpenIReport`), or a skip with the reason."""
    from pretrain.data.openi import OpenIUnavailable, load_openi

    try:
        return load_openi()
    except OpenIUnavailable as err:
        pytest.skip(f"Open-I reports unavailable: {err}")


@pytest.fixture(scope="session")
def openi_texts(openi_reports) -> list[str]:
    reports = openi_reports
    step = max(1, len(reports) // OPENI_SAMPLE)
    return [r.text for r in reports[::step] if r.text][:OPENI_SAMPLE]


@pytest.fixture(scope="session")
def real_reports(parser, sample_texts, openi_texts):
    """Parsed real reports: the project's own samples and a spread of Open-I reports."""
    return list(parser.parse_many(sample_texts + openi_texts, batch_size=128))
