"""What every clinical edit must keep, as checks that raise `AssertionError` naming the broken
invariant: each clinical kind declares `check_mention_edit` at registration, which
`perturb.testing.check_invariants` runs beside the generic checks."""

from __future__ import annotations

from perturb.apply import apply
from perturb.clinical.families import CLINICAL_FAMILIES, editable
from perturb.clinical.mentions import find_mentions
from perturb.clinical.targeted import describe, edit_mention
from perturb.parsed import ParsedReport
from perturb.rendering import replacement_form
from perturb.result import PerturbationResult


def edited_region(report: ParsedReport, result: PerturbationResult) -> set[int]:
    """The slots a clinical result may rewrite: those of the written words holding the tokens
    of the mention edits `describe` finds, each inside its mention (plus, for presence, its cue
    and list words)."""
    head = report.layout.head
    return {head[i] for change in describe(report, result) for i in change.replacements}


def check_only_the_mention_changed(report: ParsedReport, result: PerturbationResult) -> None:
    """Replacements lie in one mention's edit; every other token and all whitespace are the
    original's, so the text outside the edit is byte-identical."""
    if not result.applicable:
        assert result.text == report.text, f"{result.kind}: not applicable but changed"
        return
    assert result.text != report.text, f"{result.kind}: applicable but identical to the original"
    changes = describe(report, result)
    assert changes, f"{result.kind}: no mention explains the edit {result.replacements}"
    family = CLINICAL_FAMILIES[result.kind]
    if family != "presence":
        assert len(changes) == 1, f"{result.kind}: more than one mention changed"
        assert set(changes[0].replacements) <= set(changes[0].mention.span), f"{result.kind}: edit outside its mention"
    replaced = {r.position for r in result.replacements}
    assert replaced == edited_region(report, result), f"{result.kind}: a replacement no mention edit explains"
    expected = "".join(
        (new if i in replaced else old) + space
        for i, (old, new, space) in enumerate(zip(report.layout.tokens, result.tokens, report.whitespace))
    )
    assert result.text == expected, f"{result.kind}: text outside the replaced words changed"
    assert result.source_index == tuple(range(len(report))), f"{result.kind}: words moved"


def edited_report(report: ParsedReport, result: PerturbationResult) -> ParsedReport:
    """The edited text as a ParsedReport with the original's annotations: each replaced token
    holds its new word (one token, as the edit wrote it), and each rewritten written word starts
    in the case the result wrote it in."""
    tokens = list(report.tokens)
    for change in describe(report, result):
        for i, word in change.replacements.items():
            tokens[i] = replacement_form(report, i, word)
    for replaced in result.replacements:
        start, _ = report.layout.span(replaced.position)
        tokens[start] = replaced.new[: len(tokens[start])]
    return ParsedReport(tuple(tokens), report.whitespace, report.tags, report.pos, report.sent_ids, report.heads,
                        report.deps)


def check_inverse_restores(report: ParsedReport, result: PerturbationResult) -> None:
    """For side, severity and zone: asking the edited report's mention for its old value gives
    back the original text."""
    family = CLINICAL_FAMILIES[result.kind]
    if not result.applicable or family == "presence":
        return
    (change,) = describe(report, result)
    before = change.before
    if family == "severity":
        before = report.tokens[change.mention.severities[0]].lower()
    edited = edited_report(report, result)
    mention = next(m for m in find_mentions(edited) if m.head == change.mention.head)
    back = edit_mention(edited, mention, family, to=before)
    assert back is not None and back.text == report.text, (
        f"{result.kind}: undoing {change.before} → {change.after} gave {None if back is None else back.text!r}"
    )


def check_clinical(report: ParsedReport, result: PerturbationResult, *, seed: int = 0, key: object = None) -> None:
    """Every invariant of a clinical kind's result (made with `seed` and `key`), and that it
    repeats for the same inputs."""
    check_only_the_mention_changed(report, result)
    check_inverse_restores(report, result)
    again = apply(report, result.kind, seed=seed, key=key, draw=result.draw)
    assert again == result, f"{result.kind}: not deterministic"
    found = editable(report, CLINICAL_FAMILIES[result.kind])
    assert result.applicable == bool(found), f"{result.kind}: applicable={result.applicable} with {len(found)} editable"


def check_mention_edit(report: ParsedReport, result: PerturbationResult, scope: str, seed: int) -> None:
    """What each clinical kind declares at registration: only the mention changed, and undoing
    the edit restores the original."""
    check_only_the_mention_changed(report, result)
    check_inverse_restores(report, result)
