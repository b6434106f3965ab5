"""Report sections as the trainer reads them: the whole report, its FINDINGS or its IMPRESSION.

The perturbation collator perturbs one of them (`TrainConfig.perturb_section`); a section's parse
is cached under its own key, so one parse cache can hold the report and both sections side by
side. A record lacking the section keeps its whole report as the original text and draws no
negative (its perturbation row is skipped, counted by the collator)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

#: What the collator can perturb: "report" is both sections joined, as `ManifestRow.text`.
PERTURB_SECTIONS = ("report", "findings", "impression")


def section_text(item: Mapping[str, object], section: str) -> str:
    """The text of `section` of a dataset item or manifest row dict ('' when it has none)."""
    if section not in PERTURB_SECTIONS:
        raise ValueError(f"section must be one of {', '.join(PERTURB_SECTIONS)}, got {section!r}")
    text = item["text" if section == "report" else section]
    return str(text or "")


def section_key(record_id: str, section: str) -> str:
    """The parse-cache key of a record's section (the id itself for the whole report)."""
    return record_id if section == "report" else f"{record_id}#{section}"


def parse_records(items: Iterable[Mapping[str, object]], section: str) -> list[tuple[str, str]]:
    """(key, text) of every item's `section` that has text: what the parse cache must hold."""
    records = []
    for item in items:
        text = section_text(item, section)
        if text.strip():
            records.append((section_key(str(item["id"]), section), text))
    return records
