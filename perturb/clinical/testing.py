"""Property-testing the clinical edits: a hypothesis strategy of parsed reports whose sentences
name findings with sides, severities, zones and negations (with a dependency parse, made
without spaCy), and checkers of what every clinical edit must keep.

Each `check_*` raises `AssertionError` naming the broken invariant.
"""

from __future__ import annotations

from hypothesis import strategies as st

from perturb.apply import apply
from perturb.clinical.families import editable
from perturb.clinical.kinds import CLINICAL_FAMILIES
from perturb.clinical.mentions import find_mentions
from perturb.clinical.targeted import describe, edit_mention
from perturb.parsed import ParsedReport
from perturb.rendering import replacement_form
from perturb.result import PerturbationResult

#: (word, POS, tag): the words the generated sentences are made of.
TERMS = (("effusion", "pleural effusion"), ("pneumothorax", "pneumothorax"), ("opacity", "airspace opacity"),
         ("atelectasis", "atelectasis"), ("nodule", "nodule"), ("granuloma", "granuloma"))
SIDE_WORDS = ("left", "right", "left-sided", "right-sided")  # glued: one written word of three tokens
SIZES = ("small", "moderate", "large")
DEGREES = ("mild", "moderate", "severe")
ZONE_WORDS = ("upper", "lower")

# A sentence is a list of (text, POS, tag, dep, head) with `head` an index into the sentence.
Token = tuple[str, str, str, str, int]


def _fragment(severity: str | None, side: str | None, noun: str) -> list[Token]:
    """"Small left pleural effusion ." / "left-sided pneumothorax ." — modifiers, head noun,
    full stop."""
    modifiers = ([severity] if severity else []) + (side.replace("-", " - ").split() if side else [])
    modifiers += ["pleural"] if noun == "effusion" else []
    head = len(modifiers)
    words: list[Token] = [
        ("-", "PUNCT", "HYPH", "punct", head) if w == "-" else (w, "ADJ", "JJ", "amod", head) for w in modifiers
    ]
    words.append((noun, "NOUN", "NN", "ROOT", head))
    words.append((".", "PUNCT", ".", "punct", head))
    return words


def _located(noun: str, side: str, zone: str) -> list[Token]:
    """"Opacity in the left upper lobe ."."""
    return [
        (noun, "NOUN", "NN", "ROOT", 0), ("in", "ADP", "IN", "prep", 0), ("the", "DET", "DT", "det", 5),
        (side, "ADJ", "JJ", "amod", 5), (zone, "ADJ", "JJ", "amod", 5), ("lobe", "NOUN", "NN", "pobj", 1),
        (".", "PUNCT", ".", "punct", 0),
    ]


def _denied_list(nouns: list[str], existential: bool) -> list[Token]:
    """"No A, B, or C ." / "There is no A or B ." — one cue, conjuncts hanging off the first."""
    words: list[Token] = []
    if existential:
        words += [("There", "PRON", "EX", "expl", 1), ("is", "VERB", "VBZ", "ROOT", 1)]
    first = len(words) + 1
    words.append(("No" if not existential else "no", "DET", "DT", "det", first))
    for k, noun in enumerate(nouns):
        if k:
            if len(nouns) > 2:
                words.append((",", "PUNCT", ",", "punct", first))
            if k == len(nouns) - 1:
                words.append(("or", "CCONJ", "CC", "cc", first))
        words.append((noun, "NOUN", "NN", "attr" if existential and not k else ("ROOT" if not k else "conj"), first))
    if not existential:
        words[first] = (words[first][0], "NOUN", "NN", "ROOT", first)
    words.append((".", "PUNCT", ".", "punct", 1 if existential else first))
    return words


def _heart(adverb: str | None, negated: bool) -> list[Token]:
    """"The heart is (mildly | not) enlarged ."."""
    middle = "not" if negated else adverb
    verb = 4 if middle else 3
    words: list[Token] = [("The", "DET", "DT", "det", 1), ("heart", "NOUN", "NN", "nsubjpass", verb),
                          ("is", "AUX", "VBZ", "auxpass", verb)]
    if middle:
        words.append((middle, "PART" if negated else "ADV", "RB", "neg" if negated else "advmod", verb))
    return words + [("enlarged", "VERB", "VBN", "ROOT", verb), (".", "PUNCT", ".", "punct", verb)]


FILLER: list[list[Token]] = [
    [("The", "DET", "DT", "det", 1), ("lungs", "NOUN", "NNS", "nsubj", 2), ("are", "AUX", "VBP", "ROOT", 2),
     ("clear", "ADJ", "JJ", "acomp", 2), (".", "PUNCT", ".", "punct", 2)],
    [("Heart", "NOUN", "NN", "compound", 1), ("size", "NOUN", "NN", "nsubj", 2), ("normal", "ADJ", "JJ", "ROOT", 2),
     (".", "PUNCT", ".", "punct", 2)],
]


@st.composite
def clinical_sentence(draw: st.DrawFn) -> list[Token]:
    form = draw(st.sampled_from(("fragment", "located", "denied", "heart", "filler")))
    noun, _ = draw(st.sampled_from(TERMS))
    if form == "fragment":
        scale = DEGREES if noun in ("opacity", "atelectasis") else SIZES
        return _fragment(draw(st.none() | st.sampled_from(scale)), draw(st.none() | st.sampled_from(SIDE_WORDS)), noun)
    if form == "located":
        return _located(noun, draw(st.sampled_from(SIDE_WORDS[:2])), draw(st.sampled_from(ZONE_WORDS)))
    if form == "denied":
        nouns = draw(st.lists(st.sampled_from([t for t, _ in TERMS]), min_size=1, max_size=3, unique=True))
        return _denied_list(nouns, draw(st.booleans()))
    if form == "heart":
        negated = draw(st.booleans())
        adverb = None if negated else draw(st.none() | st.sampled_from(("mildly", "moderately", "markedly")))
        return _heart(adverb, negated)
    return draw(st.sampled_from(FILLER))


@st.composite
def clinical_reports(draw: st.DrawFn, max_sentences: int = 6) -> ParsedReport:
    """ParsedReports of 1..`max_sentences` clinical sentences with tags and a dependency parse,
    joined by a space or a blank line; side words may be glued ("left-sided")."""
    sentences = draw(st.lists(clinical_sentence(), min_size=1, max_size=max_sentences))
    tokens, whitespace, pos, tags, deps, heads, sent_ids = [], [], [], [], [], [], []
    for s, sentence in enumerate(sentences):
        start = len(tokens)
        for k, (text, p, tag, dep, head) in enumerate(sentence):
            tokens.append(text)
            pos.append(p)
            tags.append(tag)
            deps.append(dep)
            heads.append(start + head)
            sent_ids.append(s)
            last = k == len(sentence) - 1
            following = sentence[k + 1][0] if not last else ""
            glued = following in (".", ",", "-") or text == "-"
            whitespace.append(("" if glued else " ") if not last
                              else draw(st.sampled_from((" ", "\n\n"))) if s < len(sentences) - 1 else "")
    return ParsedReport(tuple(tokens), tuple(whitespace), tuple(tags), tuple(pos), tuple(sent_ids), tuple(heads),
                        tuple(deps))


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


def _specific_check(report: ParsedReport, result: PerturbationResult, scope: str, seed: int) -> None:
    check_only_the_mention_changed(report, result)
    check_inverse_restores(report, result)


#: What `perturb.testing.check_invariants` checks for each clinical kind beyond the generic.
CLINICAL_CHECKS = dict.fromkeys(CLINICAL_FAMILIES, _specific_check)

__all__ = [
    "CLINICAL_CHECKS",
    "check_clinical",
    "check_inverse_restores",
    "check_only_the_mention_changed",
    "clinical_reports",
    "edited_report",
    "edited_region",
]
