"""The presence edit: deny an asserted finding or assert a negated one, in report wording.

Replacements lie in the mention, at its negation cue and at the list words around it; the rest
of the report stays byte-identical (cue list and scope rule: `perturb.clinical.negation`).
- Asserting a negated mention: "No X." → "There is a X." (a fragment), "There is no X" →
  "There is a X" ("There is mild X" for a mass noun of a degree scale, "multiple" or
  "bilateral Xs" for a plural), "No X is seen" → "A X is seen", "without X" → "with X",
  "is not enlarged" → "is mildly enlarged". In a list the other conjuncts stay denied:
  "No A or B" → "There is a A but no B"; B asserted: "No A but a B"; "No A, B, or C" with C
  asserted: "No A or B, but a C".
- Denying an asserted mention: "Small left effusion." → "No left effusion.", "There is a left
  effusion" → "There is no left effusion", "Left lower lobe opacity" → "No left lower lobe
  opacity", "with atelectasis" → "without atelectasis", "The heart is mildly enlarged" / "The
  heart is enlarged" → "The heart is not enlarged".
Sentences with a hedge or a comparison with a prior study are left alone, and so is a mention
whose wording cannot change alone: a list the parse cut short, a denial whose "no" would cover
a neighbour ("Cardiomegaly with small effusions"), a severity word that would stay ("a small
effusion"), lungs said to be "clear" that would gain an opacity.
"""

from __future__ import annotations

from perturb.clinical.edits import MentionEdit
from perturb.clinical.mentions import Mention, find_mentions, left_modifiers, lower_tokens
from perturb.clinical.negation import (
    BRIDGES,
    NEGATION_ADVERBS,
    NEGATION_DETERMINERS,
    NEGATION_PREPOSITIONS,
    Polarity,
    polarity,
)
from perturb.clinical.vocabulary import DEGREE, FINDINGS, PLURALS, SEVERITY
from perturb.parsed import ParsedReport

#: Mass nouns among the terms: asserted without an article ("There is atelectasis").
MASS_TERMS = frozenset({
    "disease", "consolidation", "opacification", "pneumonia", "atelectasis", "scarring", "edema",
    "congestion", "cardiomegaly", "emphysema", "hyperinflation", "hyperexpansion", "spondylosis",
    "scoliosis", "dextroscoliosis", "levoscoliosis", "fluid", "failure", "copd", "evidence",
    "enlargement", "tortuosity", "ectasia", "calcification", "atherosclerosis", "hypoinflation",
    "blunting", "elevation", "widening", "chf",
})
#: Adjectives of certainty that a degree word cannot go before ("no definite edema").
CERTAINTY = frozenset({
    "definite", "definitive", "obvious", "visible", "visualized", "discrete", "significant", "appreciable",
    "overt", "frank", "convincing", "gross",
})
#: Quantifiers a denial replaces with "no": "Multiple granulomas." → "No granulomas."
QUANTIFIERS = frozenset({"multiple", "several", "numerous", "few", "scattered", "innumerable", "some", "two", "three"})
#: Plural bridge nouns: "no focal areas of consolidation".
PLURAL_BRIDGES = frozenset({"signs", "findings", "features", "areas", "foci", "xxxx"})
#: What may follow a denied mention in its sentence: a presenting verb, nothing else.
DENIABLE_TAIL = frozenset({
    "is", "are", "seen", "noted", "present", "identified", "demonstrated", "visualized", ".", "..",
})
#: Words before a mention's noun phrase after which "no" reads as a denial.
DENIABLE_BEFORE = frozenset({"is", "are", "was", "were", "and", "with", "shows", "show", "demonstrates"})
#: First words of terms that are adjective phrases: denied by other words ("normal lung volumes").
ADJECTIVE_TERMS = frozenset({"low"})
COPULAS = {"is": "is not", "are": "are not", "was": "was not", "were": "were not"}
#: Words after a list's last item that say the parse cut the list short.
LIST_CONTINUATIONS = frozenset({",", "or", "and", "nor", "/", "and/or"})
#: Findings of the lung itself: "clear" lungs cannot have them.
PARENCHYMAL = frozenset({
    "airspace opacity", "atelectasis", "nodule", "mass", "granuloma", "calcified granuloma", "congestion",
})
#: Cue words whose presence earlier in a sentence stops a denial.
NEGATION_WORDS = NEGATION_DETERMINERS | NEGATION_PREPOSITIONS | NEGATION_ADVERBS | {"negative", "free"}
#: Separators of a list's conjuncts that the presence edit can rewrite.
SEPARATORS = (("or",), ("and",), ("nor",), (",",), (",", "or"), (",", "and"), (",", "nor"))


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def _is_plural(report: ParsedReport, position: int) -> bool:
    word = lower_tokens(report)[position]
    return report.tags[position] in ("NNS", "NNPS") or word in PLURAL_BRIDGES or word in PLURALS


def _conjuncts(report: ParsedReport, first: int) -> list[int]:
    """`first` and every conjunct hanging off it (recursively), in position order."""
    out, todo = [], [first]
    while todo:
        node = todo.pop()
        out.append(node)
        todo += [j for j, (h, d) in enumerate(zip(report.heads, report.deps))
                 if h == node and j != node and d == "conj"]
    return sorted(out)


def _first_conjunct(report: ParsedReport, node: int) -> int:
    while report.deps[node] == "conj" and report.heads[node] < node:
        node = report.heads[node]
    return node


def _item_bounds(report: ParsedReport, head: int, mentions: dict[int, Mention]) -> tuple[int, int]:
    """First and last position of a list item headed at `head`."""
    mention = mentions.get(head)
    if mention is not None:
        return mention.start, mention.span[-1]
    return left_modifiers(report, head, set()), head


Items = list[tuple[int, int]]


def _list_of(report: ParsedReport, mention: Mention, cue: int) -> tuple[Items, list[tuple[int, ...]]] | None:
    """The list the cue governs that holds `mention` — each item's (first, last) position and
    the separator positions between items — when it is a plain list ("A, B, or C")."""
    tokens = lower_tokens(report)
    heads = _conjuncts(report, _first_conjunct(report, mention.head))
    if mention.head not in heads:
        return None
    by_head = {m.head: m for m in find_mentions(report)}
    items = [_item_bounds(report, h, by_head) for h in heads]
    if items[0][0] <= cue:
        return None
    after = items[-1][1] + 1
    if after < len(report) and tokens[after] in LIST_CONTINUATIONS:
        return None  # the parse lost part of the list ("No pneumothorax or pleural effusions")
    separators = []
    for (_, end), (start, _) in zip(items, items[1:]):
        between = tuple(range(end + 1, start))
        if tuple(tokens[k] for k in between) not in SEPARATORS:
            return None
        separators.append(between)
    return items, separators


def _plural_quantifier(finding: str) -> str:
    """What asserts a plural: "bilateral" effusions, "multiple" nodules."""
    return "bilateral" if finding in ("pleural effusion", "pneumothorax") else "multiple"


def _follows_cue(report: ParsedReport, cue: int, governed: int, first: int) -> bool:
    """Whether the list starts right after its cue ("no A, B"), or right after the cue's bridge
    phrase ("no evidence of A, B", "no focal areas of A")."""
    if governed >= first:
        return first == cue + 1
    by_head = {m.head: m for m in find_mentions(report)}
    start, _ = _item_bounds(report, governed, by_head)
    return start == cue + 1 and lower_tokens(report)[first - 1] == "of" and governed == first - 2


def _plural_verb(report: ParsedReport, subject: int) -> bool:
    """Whether the verb of `subject` (or its auxiliary) is plural ("are seen")."""
    verb = report.heads[subject]
    words = [verb] + [j for j, h in enumerate(report.heads) if h == verb and report.deps[j] in ("aux", "auxpass")]
    return any(report.tags[j] == "VBP" or lower_tokens(report)[j] in ("are", "were") for j in words)


def _presence_phrase(report: ParsedReport, cue: int, noun: int, finding: str) -> str | None:
    """What asserts `noun` in place of the cue "no" at `cue`, in the slot its parse gives it:
    "There is a" for a fragment, "a" / "mild" / "multiple" for an existential's attribute, an
    object or a subject."""
    tokens = lower_tokens(report)
    dep = report.deps[noun]
    capital = report.layout.capital[cue]
    following = tokens[cue + 1]
    plural = _is_plural(report, noun)
    mass = tokens[noun] in MASS_TERMS
    spec = FINDINGS[finding]
    seen = any(h == noun and d == "acl" and t == "VBN" for h, d, t in zip(report.heads, report.deps, report.tags))
    if dep == "ROOT" and capital and seen:  # "No X seen." → "A X seen."
        dep = "nsubj"
    if dep == "ROOT" and capital:  # "No X." → "There is a X."
        if plural:
            return "there are"
        return "there is" if mass else f"there is {_article(following)}"
    if dep not in ("attr", "dobj", "pobj", "nsubj", "nsubjpass"):
        return None
    if plural:
        if dep in ("nsubj", "nsubjpass") and not capital:
            return None
        if dep == "attr" and tokens[report.heads[noun]] == "is":
            return None  # "There is no focal opacities": "There is multiple ..." would not agree
        return _plural_quantifier(finding)
    if dep in ("nsubj", "nsubjpass") and _plural_verb(report, noun):
        return None  # "No A or B are seen": "A A but no B are seen" would not agree
    if mass:  # "There is mild pulmonary edema"; "small pleural fluid" is not said
        if tokens[noun] in BRIDGES or spec.severity != DEGREE or following in CERTAINTY:
            return None  # nor "mild definite pulmonary edema"
        return "mild"
    return _article(following)


def _assert(report: ParsedReport, mention: Mention, polarity: Polarity) -> dict[int, str] | None:
    tokens = lower_tokens(report)
    cue = polarity.cue
    if not polarity.by_parse or cue is None:
        return None
    if polarity.kind == "not":
        spec = FINDINGS[mention.finding]
        if mention.state is None or mention.state != cue + 1 or spec.severity != DEGREE:
            return None
        if report.tags[mention.state] not in ("VBN", "JJ"):
            return None
        return {cue: "mildly"}
    if polarity.kind not in ("no", "without"):
        return None
    governed = polarity.governed
    if governed is None or (governed != _first_conjunct(report, mention.head) and tokens[governed] not in BRIDGES):
        return None  # the cue attaches elsewhere in a misparsed list
    found = _list_of(report, mention, cue)
    if found is None:
        return None
    items, separators = found
    if not _follows_cue(report, cue, governed, items[0][0]):
        return None
    target = next(k for k, (start, end) in enumerate(items) if start <= mention.head <= end)
    replaced: dict[int, str] = {}
    before_cue = [tokens[k] for k in range(max(0, cue - 3), cue) if report.sent_ids[k] == report.sent_ids[cue]]
    if "clear" in before_cue and mention.finding in PARENCHYMAL:
        return None  # "The lungs are clear with (a) infiltrate" contradicts itself
    if target == 0:
        if polarity.kind == "without":
            replaced[cue] = "with"
        else:
            phrase = _presence_phrase(report, cue, polarity.governed, mention.finding)
            if phrase is None:
                return None
            replaced[cue] = phrase
        if separators and not _but_no(report, separators[0], replaced, "but no"):
            return None
        for between in separators[1:]:
            if len(between) == 2:  # "B, or C" → "B or C"
                if not _glued(report, between[0]):
                    return None
                replaced[between[0]] = ""
        return replaced
    if target != len(items) - 1:
        return None
    last = separators[-1]
    start = items[-1][0]
    if polarity.kind == "without":
        phrase = "but with"
    else:
        head = mention.head
        if _is_plural(report, head):
            phrase = f"but {_plural_quantifier(mention.finding)}"
        elif report.deps[governed] in ("nsubj", "nsubjpass") and _plural_verb(report, governed):
            return None  # "No A or B are seen": "No A but a B are seen" would not agree
        else:
            phrase = "but" if tokens[head] in MASS_TERMS else f"but {_article(tokens[start])}"
    if len(separators) >= 2:  # "No A, B, or C" → "No A or B, but a C"
        before = separators[-2]
        if len(before) != 1 or tokens[before[0]] != "," or not _glued(report, before[0]) or len(last) != 2:
            return None
        replaced[before[0]] = " or"
        replaced[last[1]] = phrase
        return replaced
    return replaced if _but_no(report, last, replaced, phrase) else None


def _but_no(report: ParsedReport, between: tuple[int, ...], replaced: dict[int, str], phrase: str) -> bool:
    """Write `phrase` in place of a list separator: over the conjunction, or after a comma
    glued to the word before it. False when the comma is not glued (the edit would leave two
    spaces)."""
    tokens = lower_tokens(report)
    if tokens[between[0]] == "," and not _glued(report, between[0]):
        return False
    if len(between) == 2:  # ", or" → " but no"
        replaced[between[0]] = ""
        replaced[between[1]] = phrase
    elif tokens[between[0]] == ",":
        replaced[between[0]] = " " + phrase
    else:
        replaced[between[0]] = phrase
    return True


def _glued(report: ParsedReport, position: int) -> bool:
    """Whether no whitespace separates the token at `position` from the one before it."""
    return position > 0 and report.whitespace[position - 1] == ""


def _tail_is_plain(report: ParsedReport, mention: Mention) -> bool:
    """Whether nothing but a presenting verb follows the mention in its sentence."""
    tokens = lower_tokens(report)
    k = mention.span[-1] + 1
    while k < len(report) and report.sent_ids[k] == mention.sentence:
        if report.pos[k] != "SPACE" and tokens[k] not in DENIABLE_TAIL:
            return False
        k += 1
    return True


def _phrase_start_is_free(report: ParsedReport, start: int) -> str | None:
    """The word before a noun phrase that starts at `start`: "" at a sentence start (or after a
    list number), the word when "no" may follow it, else None."""
    tokens = lower_tokens(report)
    k = start - 1
    if k < 0 or report.sent_ids[k] != report.sent_ids[start] or report.pos[k] == "SPACE":
        return ""
    if tokens[k] == "." and k > 0 and report.pos[k - 1] == "NUM":
        return ""
    return tokens[k] if tokens[k] in DENIABLE_BEFORE | {"a", "an"} else None


def _deny_predicate(report: ParsedReport, mention: Mention, state: int) -> dict[int, str] | None:
    """"The heart is mildly enlarged" → "is not enlarged"; "The heart is enlarged" → "is not
    enlarged"."""
    tokens = lower_tokens(report)
    if mention.severities:
        return {state - 1: "not"} if mention.severities == (state - 1,) else None
    copula = state - 1
    if tokens[copula] not in COPULAS or report.heads[state] not in (copula, state):
        return None
    return {copula: COPULAS[tokens[copula]]}


def _deny(report: ParsedReport, mention: Mention) -> dict[int, str] | None:
    tokens = lower_tokens(report)
    if not _tail_is_plain(report, mention):
        return None
    if any(tokens[k] in NEGATION_WORDS for k in range(mention.start) if report.sent_ids[k] == mention.sentence):
        return None  # the sentence already denies something before it: "No focal air is prominent consolidation"
    state = mention.state
    if state is not None:
        if state < mention.head:  # attributive: "No tortuous aorta" is not how reports deny it
            return None
        if state > mention.head and report.tags[state] in ("VBN", "VBD", "JJ"):
            return _deny_predicate(report, mention, state)
    if lower_tokens(report)[mention.term[0]] in ADJECTIVE_TERMS:  # "(Mildly) low lung volumes" takes no "no"
        return None
    start = mention.start
    before = _phrase_start_is_free(report, start)
    if before is None:
        return None
    first = tokens[start]
    if any(i != start for i in mention.severities):
        return None  # "No bilateral small effusions" would deny only small ones
    layout = report.layout
    word_start, word_end = layout.span(layout.head[start])
    if word_start != start:
        return None  # the phrase starts inside a written word ("XXXX-left"): "no" cannot go there
    if report.pos[start] == "NUM" or first[:1].isdigit():
        return None  # "No 6 mm nodule", "There is no 3 cm infiltrate": a measured finding is not denied this way
    if before in ("a", "an"):
        if first in SEVERITY or first in QUANTIFIERS:
            return None
        return {start - 1: "no"}
    if first in SEVERITY or first in QUANTIFIERS:
        return {start: "no"} if word_end == start + 1 else None  # not "No-sized" for "Moderate-sized"
    if before == "with":
        return {start - 1: "without"}
    if before == "and" and not _after_mention(report, start - 1):
        return None  # "calcified left lung and left hilar granulomas": "and" joins modifiers
    if before == "" and not layout.capital[start]:
        return None  # a parse sentence start that starts no sentence of the text: no break before it
    if layout.keeps_case(start) or (len(report.tokens[start]) == 1 and report.tokens[start].isupper()):
        return None  # a word that keeps its case ("COPD", "T-spine", "L"): "no" cannot go before it
    return {start: f"no {first}"}


def _after_mention(report: ParsedReport, position: int) -> bool:
    """Whether the word before `position` ends a mention ("effusion and atelectasis")."""
    return any(m.span[-1] == position - 1 for m in find_mentions(report))


def presence_edit(report: ParsedReport, mention: Mention, to: str | None = None) -> MentionEdit | None:
    """Assert a negated mention or deny an asserted one. `to`: "present", "absent" or None
    (the other one)."""
    said = polarity(report, mention)
    if said.hedged or not report.deps:
        return None
    before = "absent" if said.negated else "present"
    if to is not None and to == before:
        return None
    if said.negated:
        replaced = _assert(report, mention, said)
    else:
        replaced = None if said.compared else _deny(report, mention)
    if not replaced:
        return None
    return MentionEdit(mention, "presence", before, "present" if said.negated else "absent", replaced)
