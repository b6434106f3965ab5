"""Whether a mention is negated, hedged or told against a prior study — cue lists and the scope rule.

Scope rule. A cue negates a mention when the dependency parse links them, climbing from the
mention's head
1. through `conj` to the first conjunct of a list ("no pneumothorax or *effusion*"),
2. through `of` to a bridge noun ("no *evidence* of effusion", "no focal *areas* of consolidation"),
and then finding
- a negative determiner on that noun ("*no* effusion"),
- a negative preposition taking it ("*without* effusion"),
- a negative adjective taking it through its preposition ("*negative for*", "*free of*", "*clear of*"),
- a negative noun taking it with "of" ("*resolution* of the effusion", "*removal* of the catheter"),
- a negation or a negative predicate on the verb it is the subject (or existential attribute) of
  ("effusion is *not* seen", "there is *not* ...", "effusion has *resolved*", "is *absent*"),
- for a state mention, a negation on the state word or its copula ("the heart is *not* enlarged");
- a negative predicate among the mention's own modifiers ("*resolved* left pleural effusion");
with the cue before the mention in the same sentence and no scope terminator ("but", "however",
"which", ";", …) between them. Where the parse gives no such link, a linear rule catches what it
missed (NegEx-style): a pre-cue earlier in the sentence with only list words, modifiers, bridge
phrases and other mentions between, a negative predicate right before it ("*Cleared* left lower
lobe airspace disease"), or a post-cue ("not", "resolved", "absent") within four words after it.
A mention either rule negates counts as negated.

Hedges ("possible", "may represent", "versus", "?", …) and comparisons with a prior study
("stable", "increased", "new", "again", …) are read per sentence: the negation kind neither
asserts nor denies in such sentences, since its wording could not carry them over.
"""

from __future__ import annotations

from typing import NamedTuple

from perturb.clinical.mentions import Mention, find_mentions, lower_tokens
from perturb.parsed import ParsedReport

#: Pre-cues: a word that negates what follows it.
NEGATION_DETERMINERS = frozenset({"no"})
NEGATION_PREPOSITIONS = frozenset({"without"})
#: Adjectives that negate through their preposition: "negative for", "free of", "clear of".
NEGATION_ADJECTIVES = {"negative": "for", "free": "of", "clear": "of"}
#: Post-cues: said of the mention (its verb, predicate or the state word).
NEGATION_ADVERBS = frozenset({"not", "n't", "never"})
NEGATION_PREDICATES = frozenset({"resolved", "cleared", "absent", "excluded"})
#: Nouns that negate what they take with "of": "resolution of the effusion".
NEGATION_NOUNS = frozenset({"resolution", "clearing", "removal", "absence"})
#: Nouns through which a cue reaches the finding: "no evidence of", "no XXXX of" (anonymised).
BRIDGES = frozenset({
    "evidence", "signs", "sign", "findings", "finding", "suggestion", "features", "areas", "area",
    "xxxx", "foci", "focus", "indication", "amount",
})
#: Words that end a cue's scope.
TERMINATORS = frozenset({
    "but", "however", "although", "though", "except", "which", "that", "who", ";", "while",
    "whereas", "apart", "aside", "other",
})
#: Words a linear pre-cue may reach across: lists, and what a negated finding is said to
#: suggest ("no pleural line to suggest pneumothorax").
LIST_WORDS = frozenset({
    ",", "or", "and", "nor", "/", "of", "a", "an", "any", "the", "to", "suggest", "suggesting",
    "suggestive", "indicate", "indicating",
})
HEDGES = frozenset({
    "possible", "possibly", "probable", "probably", "likely", "unlikely", "may", "might", "could",
    "can", "cannot", "question", "questionable", "suspicious", "suspected", "suspect", "concern",
    "concerning", "suggest", "suggests", "suggested", "suggesting", "suggestive", "suggestion",
    "compatible", "consistent", "represent", "represents", "representing", "versus", "vs", "?",
    "differential", "equivocal", "indeterminate", "uncertain", "exclude", "excluded", "would",
    "if", "should", "difficult", "favor", "favored", "favoring", "thought", "felt", "presumed",
    "presumably", "perhaps", "correlate", "correlation", "recommend",
})
COMPARISONS = frozenset({
    "stable", "unchanged", "persistent", "persists", "persist", "again", "redemonstrated",
    "redemonstration", "increased", "increasing", "increase", "decreased", "decreasing",
    "decrease", "improved", "improving", "improvement", "worsened", "worsening", "new", "newly",
    "residual", "interval", "previously", "prior", "previous", "since", "resolving", "resolved",
    "resolution", "healed", "healing", "old", "chronic", "known", "remains", "remain", "similar",
    "compared", "comparison", "changed", "recurrent", "developing", "progression", "progressed",
    "enlarging", "still", "continued", "history", "status", "post",
})


class Polarity(NamedTuple):
    """How a mention is said. `cue`: the negation cue's position (None when asserted);
    `kind`: "no", "without", "negative", "free", "clear", "not", or a negative predicate;
    `governed`: the noun the cue attaches to (the list's first conjunct or the bridge noun);
    `by_parse`: whether the dependency rule (not only the linear one) found it;
    `hedged`/`compared`: a hedge / a comparison with a prior study in the sentence."""

    negated: bool
    cue: int | None
    kind: str | None
    governed: int | None
    by_parse: bool
    hedged: bool
    compared: bool


def _children(report: ParsedReport, i: int, *deps: str) -> list[int]:
    return [j for j, (h, d) in enumerate(zip(report.heads, report.deps)) if h == i and j != i and d in deps]


def _terminated(report: ParsedReport, a: int, b: int) -> bool:
    tokens = lower_tokens(report)
    return any(tokens[k] in TERMINATORS for k in range(a + 1, b))


def _negation_of(report: ParsedReport, word: int) -> int | None:
    """A negation adverb on `word` ("not seen", "not enlarged")."""
    for j in _children(report, word, "neg"):
        if lower_tokens(report)[j] in NEGATION_ADVERBS:
            return j
    return None


def _parse_cue(report: ParsedReport, mention: Mention) -> tuple[int, str, int] | None:
    """(cue position, kind, governed noun) by the dependency rule, or None."""
    if not report.deps:
        return None
    tokens, deps, heads = lower_tokens(report), report.deps, report.heads
    if mention.state is not None:  # "the heart is not enlarged", "not elevated"
        for word in (mention.state, heads[mention.state]):
            cue = _negation_of(report, word)
            if cue is not None:
                return cue, "not", mention.head
    for i in mention.span:  # "resolved left pleural effusion"
        if i < mention.head and tokens[i] in NEGATION_PREDICATES:
            return i, tokens[i], mention.head
    node = mention.head
    for _ in range(len(report)):
        for j in _children(report, node, "det"):
            if tokens[j] in NEGATION_DETERMINERS:
                return j, tokens[j], node
        dep, parent = deps[node], heads[node]
        if dep == "conj" and parent < node:
            node = parent
            continue
        if dep == "pobj":
            prep = tokens[parent]
            if prep in NEGATION_PREPOSITIONS:
                return parent, prep, node
            grand = heads[parent]
            if prep == "of" and tokens[grand] in BRIDGES and grand < node:
                node = grand
                continue
            if prep == "of" and tokens[grand] in NEGATION_NOUNS and grand < node:
                return grand, tokens[grand], node
            if grand != parent and NEGATION_ADJECTIVES.get(tokens[grand]) == prep:
                return grand, tokens[grand], node
        if dep in ("nsubj", "nsubjpass", "attr"):
            cue = _negation_of(report, parent)
            if cue is not None:
                return cue, "not", node
            if tokens[parent] in NEGATION_PREDICATES:
                return parent, tokens[parent], node
            for j in _children(report, parent, "acomp"):
                if tokens[j] in NEGATION_PREDICATES:
                    return j, tokens[j], node
        return None
    return None


def _linear_cue(report: ParsedReport, mention: Mention, spans: set[int]) -> tuple[int, str] | None:
    """A pre-cue reached across list words, modifiers and other mentions, or a post-cue
    within four words after the mention."""
    tokens = lower_tokens(report)
    k = mention.start - 1
    if k >= 0 and tokens[k] in NEGATION_PREDICATES and report.sent_ids[k] == mention.sentence:
        return k, tokens[k]  # "Cleared left lower lobe airspace disease"
    while k >= 0 and report.sent_ids[k] == mention.sentence and report.pos[k] != "SPACE":
        word = tokens[k]
        if word in NEGATION_DETERMINERS or word in NEGATION_PREPOSITIONS:
            return k, word
        if word == "of" and k > 0 and tokens[k - 1] in NEGATION_NOUNS:
            return k - 1, tokens[k - 1]
        if word in NEGATION_ADJECTIVES.values() and k > 0 and NEGATION_ADJECTIVES.get(tokens[k - 1]) == word:
            return k - 1, tokens[k - 1]
        if (k in spans or word in LIST_WORDS or word in BRIDGES or report.pos[k] in ("ADJ", "NOUN", "PROPN")
                or report.tags[k] in ("VBG", "VBN")):  # participles: "costophrenic blunting to suggest"
            k -= 1
            continue
        break
    last = mention.span[-1]
    for k in range(last + 1, min(last + 5, len(report))):
        if report.sent_ids[k] != mention.sentence or tokens[k] in TERMINATORS or tokens[k] in (",", "."):
            break
        if tokens[k] in NEGATION_ADVERBS or tokens[k] in NEGATION_PREDICATES:
            return k, "not" if tokens[k] in NEGATION_ADVERBS else tokens[k]
    return None


def _sentence_words(report: ParsedReport, sentence: int) -> set[str]:
    tokens = lower_tokens(report)
    return {tokens[i] for i, s in enumerate(report.sent_ids) if s == sentence}


def polarity(report: ParsedReport, mention: Mention) -> Polarity:
    """How `mention` is said (remembered on the report's layout)."""
    return polarities(report)[find_mentions(report).index(mention)]


def polarities(report: ParsedReport) -> tuple[Polarity, ...]:
    """`polarity` of every mention of `find_mentions(report)`, in its order."""

    def build() -> tuple[Polarity, ...]:
        mentions = find_mentions(report)
        spans = {i for m in mentions for i in m.span}
        out = []
        for m in mentions:
            words = _sentence_words(report, m.sentence)
            hedged, compared = bool(words & HEDGES), bool(words & COMPARISONS)
            parsed = _parse_cue(report, m)
            if parsed is not None:
                cue, kind, governed = parsed
                if cue < m.start and (report.sent_ids[cue] != m.sentence or _terminated(report, cue, m.head)):
                    parsed = None
            if parsed is not None:
                out.append(Polarity(True, cue, kind, governed, True, hedged, compared))
                continue
            linear = _linear_cue(report, m, spans - set(m.span))
            if linear is not None:
                out.append(Polarity(True, linear[0], linear[1], None, False, hedged, compared))
            else:
                out.append(Polarity(False, None, None, None, False, hedged, compared))
        return tuple(out)

    return report.layout.memo(("clinical", "polarities"), build)
