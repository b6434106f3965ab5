"""Clinical edits of one mention's attributes: its side, its severity, its zone.

Each edit is a set of word replacements (token position → new word), made only inside the
mention, so that the rest of the report stays byte-identical; the engine rewrites the written word
holding each replaced token ("left" → "right" makes "left-sided" "right-sided") in its slot's case
(`perturb.rendering.written_with`). An edit returns None when the mention cannot be changed that
way — a denied finding has no side to move, a right middle lobe no left twin, a measured nodule
no other size — since the rules prefer saying None to writing what no radiologist would. The
presence edit (`perturb.clinical.presence`) returns the same `MentionEdit`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

from perturb.clinical.mentions import Mention, find_mentions, lower_tokens
from perturb.clinical.negation import polarity
from perturb.clinical.vocabulary import (
    FINDINGS,
    ONE_SIDED_PARTS,
    SEVERITY,
    SEVERITY_TARGETS,
    SIDE_LETTERS,
    SIDED_TERMS,
    SIDES,
    SIZE,
    ZONE_BOUND,
    ZONE_FORMS,
)
from perturb.parsed import ParsedReport

#: Lesions: sized small or large, never "moderate".
LESIONS = frozenset({"nodule", "mass", "granuloma", "calcified granuloma"})


class MentionEdit(NamedTuple):
    """One mention changed: `family` of `finding` from `before` to `after` (values: "left" /
    "right", "present" / "absent", a severity word, "upper" / "lower"), by `replacements`
    (token position → new words, before the engine writes them into their written words)."""

    mention: Mention
    family: str
    before: str
    after: str
    replacements: Mapping[int, str]

    @property
    def finding(self) -> str:
        return self.mention.finding


def _free_standing(report: ParsedReport, position: int) -> bool:
    """Whether the token at `position` is a written word on its own (`perturb.words`): only side
    words are edited inside longer ones ("left-sided" → "right-sided"), since the reports write
    few other such forms."""
    layout = report.layout
    start, end = layout.span(layout.head[position])
    return end - start == 1


def side_of(report: ParsedReport, position: int) -> str:
    """"left" or "right" for a side word, side letter or sided term."""
    token = report.tokens[position]
    low = token.lower()
    if low in SIDED_TERMS:
        return SIDED_TERMS[low][0]
    if token in SIDE_LETTERS:
        return "left" if token == "L" else "right"
    return "left" if low.startswith("left") else "right"


def _mirror(report: ParsedReport, position: int) -> str:
    token = report.tokens[position]
    low = token.lower()
    if low in SIDED_TERMS:
        return SIDED_TERMS[low][1]
    if token in SIDE_LETTERS:
        return SIDE_LETTERS[token]
    return SIDES[low]


def _stray_sides(report: ParsedReport, mention: Mention) -> bool:
    """Whether the mention's sentence has side words outside every mention ("opacity in the
    right lower lobe obscuring the right heart border"): they may say the same side."""
    covered = {i for m in find_mentions(report) for i in m.span}
    tokens = lower_tokens(report)
    return any(
        s == mention.sentence and i not in covered and (tokens[i] in SIDES or report.tokens[i] in SIDE_LETTERS)
        for i, s in enumerate(report.sent_ids)
    )


def laterality_edit(report: ParsedReport, mention: Mention, to: str | None = None) -> MentionEdit | None:
    """Mirror every side word of a present mention: left ↔ right (also "leftward", "L"/"R",
    dextro-/levoscoliosis). None for a bilateral mention, one naming a lobe that exists on one
    side only (middle lobe, lingula), a denied one, or when it already lies on `to`."""
    if not mention.sides or polarity(report, mention).negated:
        return None
    tokens = lower_tokens(report)
    if any(tokens[i].startswith("bilateral") for i in mention.span) or any(
        tokens[i] in ONE_SIDED_PARTS for i, s in enumerate(report.sent_ids) if s == mention.sentence
    ):
        return None
    if _stray_sides(report, mention):
        return None
    sides = {side_of(report, i) for i in mention.sides}
    if to is not None and (to not in ("left", "right") or sides != {"left" if to == "right" else "right"}):
        return None
    before = " and ".join(sorted(sides))
    after = " and ".join(sorted({"left": "right", "right": "left"}[s] for s in sides))
    return MentionEdit(mention, "laterality", before, after, {i: _mirror(report, i) for i in mention.sides})


def severity_scale(report: ParsedReport, mention: Mention) -> tuple[str, float, str] | None:
    """(scale, level, part of speech) of the mention's one severity word, or None when it has
    none or several ("small to moderate")."""
    spec = FINDINGS[mention.finding]
    if spec.severity is None or len(mention.severities) != 1:
        return None
    tokens = lower_tokens(report)
    position = mention.severities[0]
    if not _free_standing(report, position):
        return None  # "moderate-to-severe" (a range), "moderate-sized" ("small-sized" is not said)
    scale, level, pos = SEVERITY[tokens[position]]
    scale = scale or spec.severity
    if (scale, pos) not in SEVERITY_TARGETS:
        return None
    if scale == SIZE and any(tokens[i] in ("mm", "cm") for i in mention.span):
        return None  # a measured size: "small 4 mm nodules" cannot become large
    return scale, level, pos


def _targets(finding: str, scale: str, pos: str) -> dict[float, str]:
    """The words a severity edit writes, by level: "moderate" sizes only a fluid or air
    collection ("moderate effusion"), not a lesion ("moderate nodule" is not said)."""
    targets = SEVERITY_TARGETS[(scale, pos)]
    if scale == SIZE and finding in LESIONS:
        return {level: word for level, word in targets.items() if level != 2.0}
    return targets


def severity_targets(report: ParsedReport, mention: Mention) -> list[str]:
    """The words a severity edit of this mention may write, by level, the current one left out."""
    found = severity_scale(report, mention)
    if found is None:
        return []
    scale, level, pos = found
    return [word for target, word in _targets(mention.finding, scale, pos).items() if target != level]


def severity_edit(
    report: ParsedReport, mention: Mention, to: str | float | None = None
) -> MentionEdit | None:
    """Change the severity word of a present mention (mild ↔ moderate ↔ severe, small ↔
    moderate ↔ large, mildly ↔ moderately ↔ markedly). `to`: a level (1 mild/small, 2
    moderate, 3 severe/large), a severity word, or None for the far end of the scale."""
    found = severity_scale(report, mention)
    if found is None or polarity(report, mention).negated:
        return None
    scale, level, pos = found
    position = mention.severities[0]
    before = lower_tokens(report)[position]
    targets = _targets(mention.finding, scale, pos)
    if to is None:
        word = targets[1.0 if level >= 2 else 3.0]
    elif isinstance(to, str) and to.lower() in SEVERITY:
        word_scale, word_level, word_pos = SEVERITY[to.lower()]
        own_scale = SEVERITY[before][0]  # None: "moderate", "minimal" fit either scale
        if word_pos == pos and (word_scale in (None, scale) or own_scale is None):
            word = to.lower()
        else:
            word = targets.get(word_level)
    elif isinstance(to, (int, float)):
        word = targets.get(float(to))
    else:
        return None
    if word is None or word == before:
        return None
    return MentionEdit(mention, "severity", before, word, {position: word})


def zone_of(word: str) -> str:
    """"upper" or "lower": where a zone word lies."""
    return "upper" if ZONE_FORMS[word][0] in ("upper", "apex") else "lower"


def _stray_zones(report: ParsedReport, mention: Mention) -> bool:
    """Whether the mention's sentence places something outside every mention, or the mention
    names a part that only one zone has ("retrocardiac left lower lobe", "between the anterior
    second and third ribs")."""
    covered = {i for m in find_mentions(report) for i in m.span}
    tokens = lower_tokens(report)
    if any(tokens[i] in ZONE_BOUND for i in mention.span):
        return True
    return any(
        s == mention.sentence and i not in covered and (tokens[i] in ZONE_FORMS or tokens[i] in ZONE_BOUND)
        for i, s in enumerate(report.sent_ids)
    )


def location_edit(report: ParsedReport, mention: Mention, to: str | None = None) -> MentionEdit | None:
    """Move a present mention up or down: upper ↔ lower (lobe, zone), apex ↔ base, apical ↔
    basilar, biapical ↔ bibasilar. `to`: "upper" or "lower" (None: the other one)."""
    if not mention.zones or polarity(report, mention).negated or _stray_zones(report, mention):
        return None
    if not all(_free_standing(report, i) for i in mention.zones):
        return None  # "perihilar/upper": "perihilar/lower" is no report's word
    tokens = lower_tokens(report)
    zones = {zone_of(tokens[i]) for i in mention.zones}
    if len(zones) != 1:
        return None
    (before,) = zones
    after = "lower" if before == "upper" else "upper"
    if to is not None and to != after:
        return None
    return MentionEdit(mention, "location", before, after, {i: ZONE_FORMS[tokens[i]][1] for i in mention.zones})

