"""The requested edit: change one finding of a report in a given way, in the finding's own words.

`edit_report` is the text half of a counterfactual image–report pair: the caller decides from
the report's tags what the image will show (the left effusion moved right, the pneumothorax
removed, the cardiomegaly made severe) and asks for exactly that text. Every mention of the
finding that says the attribute is edited the same way, so findings and impression agree; when
one of them cannot be edited so, nothing is (None), since a half-edited report contradicts its
image. `describe` tells, for any clinical result, which mention changed and how.
"""

from __future__ import annotations

from perturb.clinical.edits import MentionEdit, severity_edit, severity_targets, side_of, zone_of
from perturb.clinical.families import EDITORS, FAMILIES
from perturb.clinical.kinds import CLINICAL_FAMILIES
from perturb.clinical.mentions import Mention, find_mentions, lower_tokens
from perturb.clinical.negation import polarities
from perturb.clinical.vocabulary import FINDINGS, SEVERITY
from perturb.parsed import ParsedReport
from perturb.rendering import join, render, replaced_words
from perturb.result import PerturbationResult, Replacement

#: Edit family → the kind whose results it makes.
KIND_OF_FAMILY = {family: kind for kind, family in CLINICAL_FAMILIES.items()}


def _current(report: ParsedReport, family: str, mention: Mention) -> str | None:
    """The value the mention says now for `family`, or None when it says none."""
    tokens = lower_tokens(report)
    if family == "laterality":
        sides = {side_of(report, i) for i in mention.sides}
        return sides.pop() if len(sides) == 1 else None
    if family == "location":
        zones = {zone_of(tokens[i]) for i in mention.zones}
        return zones.pop() if len(zones) == 1 else None
    if family == "severity":
        return tokens[mention.severities[0]] if len(mention.severities) == 1 else None
    negated = polarities(report)[find_mentions(report).index(mention)].negated
    return "absent" if negated else "present"


def _default_target(report: ParsedReport, family: str, mention: Mention) -> str | None:
    edit = EDITORS[family](report, mention)
    return None if edit is None else edit.after


VALUES = {"laterality": ("left", "right"), "presence": ("present", "absent"), "location": ("upper", "lower")}


def _level(to: str | float) -> float:
    """The severity level `to` names (a level or a severity word)."""
    if isinstance(to, str):
        if to.lower() not in SEVERITY:
            raise ValueError(f"unknown severity {to!r}; known: {', '.join(SEVERITY)} or a level 1/2/3")
        return SEVERITY[to.lower()][1]
    return float(to)


def _says(report: ParsedReport, family: str, mention: Mention, to: str | float) -> bool:
    """Whether the mention already says `to`."""
    if family == "severity":
        return SEVERITY[lower_tokens(report)[mention.severities[0]]][1] == _level(to)
    return _current(report, family, mention) == to


def edit_report(
    report: ParsedReport, family: str, finding: str, *, to: str | float | None = None
) -> PerturbationResult | None:
    """`report` with `finding` changed in `family`'s way, or None when the text cannot say it.

    `family`: "laterality" (`to` "left"/"right"), "presence" ("present"/"absent"), "severity"
    (a level 1/2/3, or a word: "small", "moderate", "large", "mild", "severe"), "location"
    ("upper"/"lower"); `to=None` takes the other side / the other polarity / the far end of
    the scale / the other zone of the finding's first editable mention. Every mention of
    `finding` that says something else than `to` is changed; mentions that say nothing of the
    attribute (no side word, no severity word) stay. The result is a `PerturbationResult` of
    the family's kind (`KIND_OF_FAMILY`), its `replacements` the words changed.
    """
    if family not in FAMILIES:
        raise ValueError(f"unknown edit family {family!r}: expected one of {', '.join(FAMILIES)}")
    if finding not in FINDINGS:
        raise ValueError(f"unknown finding {finding!r}; known: {', '.join(sorted(FINDINGS))}")
    if to is not None and family in VALUES and to not in VALUES[family]:
        raise ValueError(f"{family} edits go to {' or '.join(VALUES[family])}, not {to!r}")
    if to is not None and family == "severity":
        _level(to)
    editor = EDITORS[family]
    negated = {m for m, p in zip(find_mentions(report), polarities(report)) if p.negated}
    saying = [
        m for m in find_mentions(report)
        if m.finding == finding and _current(report, family, m) is not None
        and (family == "presence" or m not in negated)
    ]
    if to is None:
        to = next((t for m in saying if (t := _default_target(report, family, m)) is not None), None)
        if to is None:
            return None
    replacements: dict[int, str] = {}
    for mention in saying:
        if _says(report, family, mention, to):
            continue
        edit = editor(report, mention, to)
        if edit is None or set(edit.replacements) & set(replacements):
            return None
        replacements.update(edit.replacements)
    if not replacements:
        return None
    return _result(report, KIND_OF_FAMILY[family], replacements)


def edit_mention(
    report: ParsedReport, mention: Mention, family: str, *, to: str | float | None = None
) -> PerturbationResult | None:
    """`report` with one mention (from `find_mentions(report)`) changed in `family`'s way, or
    None when the rules cannot: the finer-grained `edit_report`, for a caller that chose the
    mention itself."""
    if family not in FAMILIES:
        raise ValueError(f"unknown edit family {family!r}: expected one of {', '.join(FAMILIES)}")
    edit = EDITORS[family](report, mention, to)
    if edit is None:
        return None
    return _result(report, KIND_OF_FAMILY[family], dict(edit.replacements))


def _result(report: ParsedReport, kind: str, replacements: dict[int, str]) -> PerturbationResult:
    """A result of `kind` that replaces words as `perturb.apply` renders replacements: each
    written word holding a replaced token rewritten in its slot's case, reported at its slot."""
    layout = report.layout
    tokens = render(report, layout.identity, replacements)
    written = replaced_words(report, replacements)
    made = tuple(Replacement(slot, layout.tokens[slot], new) for slot, new in written.items())
    return PerturbationResult(kind, join(tokens, report.whitespace), True, layout.identity, made, 0, report, tokens)


def _candidate_edits(report: ParsedReport, family: str, mention: Mention) -> list[MentionEdit]:
    """The edits a kind of `family` may have made of `mention`: its default one, and for
    severity one per other level."""
    if family == "severity":
        edits = [severity_edit(report, mention, word) for word in severity_targets(report, mention)]
    else:
        edits = [EDITORS[family](report, mention)]
    return [edit for edit in edits if edit is not None]


def describe(report: ParsedReport, result: PerturbationResult) -> tuple[MentionEdit, ...]:
    """Which mentions a clinical result changed, and how (finding, family, before → after, and
    the edit's token replacements, each written word of which the result wrote exactly so): the
    provenance a caller needs to edit a report's tags the same way."""
    family = CLINICAL_FAMILIES.get(result.kind)
    if family is None or not result.applicable:
        return ()
    written = {r.position: r.new for r in result.replacements}
    out = []
    for mention in find_mentions(report):
        for edit in _candidate_edits(report, family, mention):
            wanted = replaced_words(report, edit.replacements)
            if all(written.get(slot) == new for slot, new in wanted.items()):  # not a neighbour's edit
                out.append(edit)
                break
    return tuple(out)
