"""The text half of a counterfactual: the report edited the way its tags were, by the clinical
edit kinds on the engine's parse.

A tag edit (`counterfactual.Edit`) says what the counterfactual image shows: the left effusion
on the right, the pneumothorax gone, the cardiomegaly severe. `perturb.clinical.edit_report`
makes the report say exactly that, in the finding's own words, or declines. The tags guide the
text and decide it: an edit is made only when the report already says what the original tag says
(editing it toward the tag's value changes nothing) and editing it toward the new value changes
something. A report whose text disagrees with its tags, or does not mention the finding, gets no
pair (`build_counterfactual_set` counts it as declined).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

from perturb.clinical import FINDINGS, edit_report
from perturb.parsed import ParsedReport
from perturb.result import PerturbationResult
from pretrain.data.manifest import ManifestRow
from pretrain.phantoms.counterfactual import LOWER_ZONES, Edit
from pretrain.phantoms.counterfactual_set import CounterfactualSummary, build_counterfactual_set
from pretrain.phantoms.phantom import DEFAULT_SIZE

#: (report id, text) → the engine's parse of the text (a parse cache, or `perturb.Parser`).
Parse = Callable[[str, str], ParsedReport]

#: The clinical family that writes each tag-edit family (a device is added or removed).
TEXT_FAMILY = {"laterality": "laterality", "presence": "presence", "severity": "severity",
               "location": "location", "device": "presence"}


def text_value(edit: Edit, value: str) -> str:
    """A tag edit's `before`/`after` value as `edit_report`'s `to` (a zone becomes upper/lower;
    sides, present/absent and severity words stay)."""
    if edit.family == "location":
        return "lower" if value in LOWER_ZONES else "upper"
    return value


def tag_guided_edit(report: ParsedReport, edit: Edit) -> PerturbationResult | None:
    """`report` said the way `edit` changed its tags (a clinical kind's result, its replacements
    the words changed), or None when the text cannot say it or says otherwise than the tags."""
    if edit.finding not in FINDINGS:
        return None
    family = TEXT_FAMILY[edit.family]
    if edit_report(report, family, edit.finding, to=text_value(edit, edit.before)) is not None:
        return None     # some mention says otherwise than the original tag: the tags cannot decide
    return edit_report(report, family, edit.finding, to=text_value(edit, edit.after))


def edited_text(report: ParsedReport, edit: Edit) -> str | None:
    """The text of `tag_guided_edit`, or None."""
    result = tag_guided_edit(report, edit)
    return None if result is None else result.text


def clinical_text_edit(parse: Parse) -> Callable[[ManifestRow, Edit], str | None]:
    """The `TextEdit` of `build_counterfactual_set`: each row's report parsed by `parse` and
    edited by `edited_text`."""

    def text_edit(row: ManifestRow, edit: Edit) -> str | None:
        return edited_text(parse(row.id, row.text), edit)

    return text_edit



def dependency_parses(records: Sequence[tuple[str, str]],
                      parse_cache: str | os.PathLike[str] | None = None) -> list[ParsedReport]:
    """Parses of (id, text) records with the dependency arcs the clinical edits read: from
    `parse_cache` where it holds the same text parsed with them, else by `perturb.Parser` (a
    cache made for the paper's kinds alone has no arcs, and negation scope needs them)."""
    import perturb
    from pretrain.evaluation.semantic import parse_reports

    parsed, _ = parse_reports(records, parse_cache)
    missing = [i for i, report in enumerate(parsed) if report.tokens and not report.deps]
    if missing:
        for i, report in zip(missing, perturb.Parser().parse_many(parsed[i].text for i in missing)):
            parsed[i] = report
    return parsed


def write_counterfactual_pairs(
    rows: Sequence[ManifestRow], out_dir: str | os.PathLike[str], *,
    parse_cache: str | os.PathLike[str] | None = None, size: int = DEFAULT_SIZE, seed: int = 0,
    max_additions: int | None = 2, on_done: Callable[[int], None] | None = None,
) -> CounterfactualSummary:
    """The pairs of `rows` (`build_counterfactual_set` with `clinical_text_edit`), each report
    parsed once (`dependency_parses`)."""
    parsed = dependency_parses([(row.id, row.text) for row in rows], parse_cache)
    by_id = {row.id: report for row, report in zip(rows, parsed)}
    return build_counterfactual_set(rows, out_dir, clinical_text_edit(lambda key, text: by_id[key]),
                                    size=size, seed=seed, max_additions=max_additions,
                                    on_done=on_done)
