"""Finding mentions: where a report names a finding, and which of its words say side, severity
and zone.

A mention is found in two ways (see `perturb.clinical.vocabulary`):
- a *term* ("pleural effusion", "airspace disease") with the noun-phrase modifiers to its left
  ("small left", "right lower lobe") and a location phrase to its right ("in the left lower
  lobe", "at the right base") — attached to the term, or, by the dependency parse, to the verb
  whose subject the term is ("Granuloma is seen in the right upper lobe");
- a *state* said of an *anchor*: an adjective modifying it ("enlarged heart", "elevated left
  hemidiaphragm"), a predicate ("The heart is mildly enlarged": the dependency parse links the
  subject to its complement) or a noun with "of" ("elevation of the right hemidiaphragm").

Modifiers are read linearly, left of the head, because the small English parser often misparses
telegraphic noun phrases ("patchy left lower lobe airspace disease" with "left" as a verb);
the dependency parse links what word order cannot: predicates and verb-attached locations.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from perturb.clinical.vocabulary import (
    FINDINGS,
    LOCATION_NOUNS,
    NOT_FINDINGS,
    SEVERITY,
    SIDE_LETTERS,
    SIDED_TERMS,
    SIDES,
    ZONE_FORMS,
)
from perturb.parsed import ParsedReport

#: Words that may sit inside a noun phrase before its head beyond adjectives and nouns.
NP_WORDS = frozenset({"-", "sided", "sized", "size", "xxxx", "bilateral", "mm", "cm"})
#: POS tags of words that may modify a noun phrase's head from the left.
NP_POS = frozenset({"ADJ", "NOUN", "PROPN", "NUM"})
#: Prepositions that open a location phrase ("in the left lower lobe").
LOCATION_PREPOSITIONS = frozenset({"in", "at", "within", "involving", "of", "on", "along", "overlying", "throughout"})
#: Verbs (and predicate adjectives) whose subject's location may attach to them.
PRESENTING_WORDS = frozenset({
    "is", "are", "be", "seen", "noted", "identified", "present", "demonstrated", "visualized",
    "visible", "evident", "appreciated", "projects", "projecting", "located", "persists", "remains",
})
#: Words that never belong to a mention's noun phrase although tagged ADJ or NOUN.
NP_STOP = frozenset({"no", "without", "negative", "free", "evidence", "signs", "sign", "findings", "due"})


def _lexicon(pairs: Sequence[tuple[str, str]]) -> dict[str, list[tuple[tuple[str, ...], str]]]:
    """First word → (words, finding) for every phrase, longest first."""
    out: dict[str, list[tuple[tuple[str, ...], str]]] = {}
    for phrase, finding in pairs:
        words = tuple(phrase.split())
        out.setdefault(words[0], []).append((words, finding))
    for entries in out.values():
        entries.sort(key=lambda e: -len(e[0]))
    return out


TERMS = _lexicon([(t, f.name) for f in FINDINGS.values() for t in f.terms] + [(t, "") for t in NOT_FINDINGS])
ANCHORS = _lexicon([(a, f.name) for f in FINDINGS.values() for a in f.anchors])
STATES = {s: [f.name for f in FINDINGS.values() if s in f.states] for f in FINDINGS.values() for s in f.states}


class Mention(NamedTuple):
    """One finding named in a report.

    `head`: the position of the word that heads the mention (the term's last word, or the
    anchor's); `term`: the positions of the finding's own words (term, or anchor + state word);
    `span`: every position that belongs to the mention, sorted — modifiers, term, location
    phrase, state word and its modifiers; `start`: the first position of its noun phrase;
    `state`: the state word's position (None for terms); `sides`, `severities`, `zones`:
    positions in `span` of side, severity and zone words."""

    finding: str
    head: int
    term: tuple[int, ...]
    span: tuple[int, ...]
    start: int
    state: int | None
    sides: tuple[int, ...]
    severities: tuple[int, ...]
    zones: tuple[int, ...]
    sentence: int


def lower_tokens(report: ParsedReport) -> tuple[str, ...]:
    """The tokens in lower case (remembered on the layout: every rule reads them)."""
    return report.layout.memo(("clinical", "lower"), lambda: tuple(t.lower() for t in report.tokens))


def _same_clause(report: ParsedReport, i: int, j: int) -> bool:
    """Whether positions i and j lie in the same sentence and no whitespace token lies between."""
    if not (0 <= i < len(report) and 0 <= j < len(report)):
        return False
    if report.sent_ids[i] != report.sent_ids[j]:
        return False
    a, b = min(i, j), max(i, j)
    return all(report.pos[k] != "SPACE" for k in range(a, b + 1))


def _is_np_word(report: ParsedReport, i: int, claimed: set[int]) -> bool:
    """Whether the token at i may modify a noun phrase head from the left."""
    if i in claimed or report.tags[i] == "LS":  # a list item's number: "1. Small left effusion"
        return False
    low = report.tokens[i].lower()
    if low in NP_STOP:
        return False
    if low == "to":  # only in a severity range: "small to moderate"
        return (0 < i < len(report) - 1 and report.tokens[i - 1].lower() in SEVERITY
                and report.tokens[i + 1].lower() in SEVERITY)
    if _modifier_word(low):
        return True
    if report.tokens[i] in SIDE_LETTERS:
        return True
    pos = report.pos[i]
    if pos in NP_POS:
        return True
    # participles used as adjectives: "calcified", "increased", "streaky"
    return pos == "VERB" and report.tags[i] in ("VBN", "VBG") and (not report.deps or report.deps[i] == "amod")


def left_modifiers(report: ParsedReport, first: int, claimed: set[int]) -> int:
    """The first position of the noun phrase whose head words start at `first`. Once an
    adjective has been passed, a noun ends the phrase: "lymph XXXX | calcified granuloma"."""
    start = first
    adjective = report.pos[first] == "ADJ"
    k = first - 1
    while k >= 0 and _same_clause(report, k, first) and _is_np_word(report, k, claimed):
        low = report.tokens[k].lower()
        if adjective and report.pos[k] in ("NOUN", "PROPN") and not _modifier_word(low):
            break
        adjective = adjective or report.pos[k] == "ADJ" or report.tags[k] == "VBN"
        start = k
        k -= 1
    # a phrase never starts with a hyphen or "to" ("small to moderate" keeps both ends)
    while start < first and report.tokens[start].lower() in ("-", "to"):
        start += 1
    return start


def _modifier_word(low: str) -> bool:
    return low in NP_WORDS or low in SIDES or low in SEVERITY or low in ZONE_FORMS or low in LOCATION_NOUNS


def _location_phrase(report: ParsedReport, prep: int, claimed: set[int]) -> int | None:
    """If a location phrase opens at `prep` ("in the left lower lobe", "on the right", "in the
    right lung and left base"), its last position; else None."""
    tokens = lower_tokens(report)
    if prep >= len(report) or tokens[prep] not in LOCATION_PREPOSITIONS:
        return None
    end = _location_noun_phrase(report, prep, prep + 1, claimed)
    while end is not None and end + 1 < len(report) and tokens[end + 1] == "and":
        more = _location_noun_phrase(report, prep, end + 2, claimed)
        if more is None:
            break
        end = more
    return end


def _location_noun_phrase(report: ParsedReport, prep: int, k: int, claimed: set[int]) -> int | None:
    """The last position of a noun phrase from `k` that ends in a location noun, or None."""
    tokens = lower_tokens(report)
    if k < len(report) and tokens[k] == "the":
        k += 1
    end = None
    while k < len(report) and _same_clause(report, prep, k) and _is_np_word(report, k, claimed):
        if tokens[k] in LOCATION_NOUNS:
            end = k
        k += 1
    if end is None or (end + 1 < len(report) and _same_clause(report, end, end + 1)
                       and _is_np_word(report, end + 1, claimed)):
        return None  # the phrase goes on past its location noun: not a plain location
    return end


def _right_locations(report: ParsedReport, last: int, claimed: set[int]) -> list[int]:
    """Positions of up to two location phrases straight after `last` ("in the lateral aspect
    of the left lower lobe")."""
    out: list[int] = []
    k = last + 1
    for _ in range(2):
        end = _location_phrase(report, k, claimed) if _same_clause(report, last, k) else None
        if end is None:
            break
        out.extend(range(k, end + 1))
        k = end + 1
    return out


def _verb_locations(report: ParsedReport, head: int, claimed: set[int]) -> list[int]:
    """Location phrases attached by the parse to the verb whose subject (or existential
    attribute) the mention is, or to a participle modifying it ("a granuloma identified in the
    right suprahilar region")."""
    if not report.deps:
        return []
    deps, heads = report.deps, report.heads
    hosts = []
    if deps[head] in ("nsubj", "nsubjpass", "attr") and report.tokens[heads[head]].lower() in PRESENTING_WORDS:
        verb = heads[head]
        subjects = [i for i in range(len(report)) if heads[i] == verb and deps[i] in ("nsubj", "nsubjpass", "attr")]
        if subjects == [head] and not any(heads[i] == head and deps[i] == "conj" for i in range(len(report))):
            hosts.append(verb)
    hosts += [i for i in range(len(report)) if heads[i] == head and deps[i] == "acl"
              and report.tokens[i].lower() in PRESENTING_WORDS]
    out: list[int] = []
    for host in hosts:
        for prep in range(len(report)):
            if heads[prep] == host and deps[prep] == "prep" and prep > head and _same_clause(report, head, prep):
                end = _location_phrase(report, prep, claimed)
                if end is not None:
                    out.extend(range(prep, end + 1))
    return out


def _match(lexicon: dict, tokens: Sequence[str], i: int) -> tuple[tuple[str, ...], str] | None:
    for words, finding in lexicon.get(tokens[i], ()):
        if tuple(tokens[i : i + len(words)]) == words:
            return words, finding
    return None


def _attributes(report: ParsedReport, finding: str, span: Sequence[int], term: Sequence[int]):
    """(sides, severities, zones): the positions in `span` of words of each attribute that
    `finding` can carry."""
    spec = FINDINGS[finding]
    tokens = lower_tokens(report)
    sides = []
    if spec.side:
        sides = [i for i in span if tokens[i] in SIDES or report.tokens[i] in SIDE_LETTERS
                 or (i in term and tokens[i] in SIDED_TERMS)]
    severities = [i for i in span if spec.severity is not None and tokens[i] in SEVERITY and i not in term]
    zones = [i for i in span if spec.zone and tokens[i] in ZONE_FORMS and i not in term]
    return tuple(sides), tuple(severities), tuple(zones)


def _make(report: ParsedReport, finding: str, head: int, term: list[int], span: set[int], start: int,
          state: int | None) -> Mention:
    ordered = tuple(sorted(span))
    sides, severities, zones = _attributes(report, finding, ordered, term)
    return Mention(finding, head, tuple(sorted(term)), ordered, start, state, sides, severities, zones,
                   report.sent_ids[head])


def _term_mentions(report: ParsedReport, claimed: set[int]) -> list[Mention]:
    tokens = lower_tokens(report)
    found: list[tuple[int, int, str]] = []
    i = 0
    while i < len(tokens):
        hit = _match(TERMS, tokens, i)
        if hit is not None and _same_clause(report, i, i + len(hit[0]) - 1):
            found.append((i, i + len(hit[0]), hit[1]))
            claimed.update(range(i, i + len(hit[0])))
            i += len(hit[0])
        else:
            i += 1
    out = []
    for first, stop, finding in found:
        if not finding:  # a phrase that only looks like a finding: "subcutaneous emphysema"
            continue
        head = stop - 1
        term = list(range(first, stop))
        start = left_modifiers(report, first, claimed - set(term))
        span = set(range(start, stop)) | set(term)
        span |= set(_right_locations(report, head, claimed))
        span |= set(_verb_locations(report, head, claimed))
        out.append(_make(report, finding, head, term, span, start, None))
    return out


def _state_of(report: ParsedReport, anchor_head: int, findings: list[str], np_start: int) -> int | None:
    """The state word that names one of `findings` of the anchor ending at `anchor_head`: an
    adjective among its modifiers, a predicate complement, or a noun taking it with "of"."""
    tokens = lower_tokens(report)
    for i in range(np_start, anchor_head):
        if any(f in STATES.get(tokens[i], ()) for f in findings):
            return i
    if not report.deps:
        return None
    deps, heads = report.deps, report.heads
    n = len(report)
    parent = heads[anchor_head]
    # "The heart is (mildly) enlarged": subject of a copula with a state complement, or of the state itself
    if deps[anchor_head] in ("nsubj", "nsubjpass"):
        if any(f in STATES.get(tokens[parent], ()) for f in findings):
            return parent
        for i in range(n):
            if heads[i] == parent and deps[i] in ("acomp", "attr", "xcomp") and any(
                f in STATES.get(tokens[i], ()) for f in findings
            ):
                return i
    # "elevation of the right hemidiaphragm"
    if deps[anchor_head] == "pobj" and tokens[parent] == "of":
        noun = heads[parent]
        if noun < anchor_head and any(f in STATES.get(tokens[noun], ()) for f in findings):
            return noun
    # "hemidiaphragm elevation", "aortic tortuosity"
    if parent > anchor_head and deps[anchor_head] in ("compound", "amod") and any(
        f in STATES.get(tokens[parent], ()) for f in findings
    ):
        return parent
    return None


def _state_modifiers(report: ParsedReport, state: int, claimed: set[int]) -> list[int]:
    """Severity words before a state word ("mildly enlarged", "mild elevation")."""
    tokens = lower_tokens(report)
    out = []
    k = state - 1
    while k >= 0 and _same_clause(report, k, state) and k not in claimed and tokens[k] in SEVERITY:
        out.append(k)
        k -= 1
    return out


def _state_mentions(report: ParsedReport, claimed: set[int]) -> list[Mention]:
    tokens = lower_tokens(report)
    out = []
    i = 0
    while i < len(tokens):
        hit = _match(ANCHORS, tokens, i)
        if hit is None or i in claimed or not _same_clause(report, i, i + len(hit[0]) - 1):
            i += 1
            continue
        words, _ = hit
        head = i + len(words) - 1
        findings = [f for w, f in ANCHORS[tokens[i]] if w == words]
        np_start = left_modifiers(report, i, claimed)
        state = _state_of(report, head, findings, np_start)
        if state is not None and state not in claimed and _same_clause(report, head, state):
            finding = next(f for f in findings if f in STATES[tokens[state]])
            term = [*range(i, head + 1), state]
            span = set(range(np_start, head + 1)) | {state} | set(_state_modifiers(report, state, claimed))
            span |= set(_right_locations(report, head, claimed))
            start = min(span)
            if state < i:  # "elevation of the left hemidiaphragm": the phrase starts at the state noun
                start = left_modifiers(report, state, claimed)
                span |= set(range(start, i))
            claimed.update(span)
            out.append(_make(report, finding, head, term, span, start, state))
            i = head + 1
        else:
            i += 1
    return out


def find_mentions(report: ParsedReport) -> tuple[Mention, ...]:
    """Every finding mention of `report`, in position order (remembered on its layout)."""

    def build() -> tuple[Mention, ...]:
        claimed: set[int] = set()
        terms = _term_mentions(report, claimed)
        for m in terms:
            claimed.update(m.span)
        states = _state_mentions(report, claimed)
        return tuple(sorted(terms + states, key=lambda m: m.head))

    return report.layout.memo(("clinical", "mentions"), build)
