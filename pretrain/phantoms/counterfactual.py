"""Counterfactual edits of a report's MeSH tags, one finding at a time, and the images they draw.

An edit changes one finding in one way the phantom shows: its side (`laterality`), whether it is
there (`presence`, and `device` for lines, tubes and hardware), its severity or size (`severity`)
or its upper/lower zone (`location`). Every other tag stays as it is. The counterfactual image is
the edited tags drawn with the original's seed, and an edited tag keeps the original tag's random
stream, so both images share anatomy, noise and every other finding, and the same effusion moves
or grows instead of being drawn anew (`edit_region` says where the two images may differ).

Edits the tags cannot decide are not made: a side is moved only when the tag names exactly one;
a severity only when the tag names one; a zone only when it names one upper or lower zone; and a
finding is edited only when no other tag of the report names the same kind (else the image would
still show it). An edit is made only where the renderer draws the attribute it changes (a nodule's
size, for one, is not drawn).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from pretrain.data.tags import SEVERITY, Tag, parse_tag
from pretrain.phantoms.findings import DRAWABLE_FINDINGS, classify
from pretrain.phantoms.findings.parenchyma import ZONES
from pretrain.phantoms.findings.registry import named_sides
from pretrain.phantoms.phantom import DEFAULT_SIZE, finding_region, render_phantom

FAMILIES = ("laterality", "presence", "severity", "location", "device")
DEVICES = frozenset({"catheter", "tube", "implanted device", "surgical material"})
#: kinds drawn on the side their tag names (the others ignore it or draw both sides)
LATERAL = frozenset({"pleural effusion", "pneumothorax", "airspace opacity", "atelectasis",
                     "nodule", "mass", "granuloma", "calcified granuloma",
                     "elevated hemidiaphragm", "scoliosis"}) | DEVICES
#: kinds drawn larger or denser with their tag's severity
GRADED = frozenset({"cardiomegaly", "pleural effusion", "pneumothorax", "airspace opacity",
                    "atelectasis", "congestion", "hyperinflation", "hypoinflation",
                    "elevated hemidiaphragm", "tortuous aorta", "wide mediastinum",
                    "hiatal hernia", "degenerative spine", "scoliosis"})
#: kinds drawn in the lung zone their tag names
ZONED = frozenset({"airspace opacity", "atelectasis", "nodule", "mass", "granuloma",
                   "calcified granuloma"})
#: each severity word and the one it becomes: the far end of its own scale (size words for sizes)
SEVERITY_SWAP = {"mild": "severe", "severe": "mild", "moderate": "mild",
                 "small": "large", "large": "small"}
SIZED = frozenset({"pleural effusion", "pneumothorax", "hiatal hernia"})    # moderate → small
ZONE_SWAP = {"upper lobe": "lower lobe", "lower lobe": "upper lobe", "apex": "base", "base": "apex"}
LOWER_ZONES = frozenset({"lower lobe", "base"})
EXCLUSIVE = {"hyperinflation": "hypoinflation", "hypoinflation": "hyperinflation"}
IN_PLACE = frozenset({"laterality", "severity", "location"})   # families that rewrite one tag
PRESENT, ABSENT = "present", "absent"


@dataclass(frozen=True)
class Edit:
    """One finding changed in one way. `before`/`after` are the values the report gives
    (a side, `present`/`absent`, a severity word, a zone); `tags` is the whole edited tag list.
    `index` is the edited or removed tag's position in the original list (None for an added
    finding, which goes last); `tag_before`/`tag_after` are the tag as it was and as it becomes
    (None where there is none)."""

    family: str
    finding: str
    before: str
    after: str
    tags: tuple[str, ...]
    index: int | None
    tag_before: str | None
    tag_after: str | None

    def to_dict(self) -> dict[str, object]:
        """The `edit` field of a pairs-file row (the edited tags go in `tags_b`)."""
        return {"finding": self.finding, "from": self.before, "to": self.after,
                "index": self.index, "tag_from": self.tag_before, "tag_to": self.tag_after}


def _parts(raw: str) -> list[str]:
    return raw.split("/")


def _norm(part: str) -> str:
    return " ".join(part.split()).lower()


def _replace_qualifier(raw: str, old: str, new: str) -> str:
    """`raw` with every qualifier equal to `old` (after normalising) replaced by `new`."""
    parts = _parts(raw)
    return "/".join([parts[0]] + [new if _norm(p) == old else p for p in parts[1:]])


def shown_side(kind: str, tag: Tag) -> str | None:
    """The one side the phantom draws the tag on, when the tag decides it and could name the
    other one instead (not for lobes that exist on one side only)."""
    if kind not in LATERAL or len(tag.sides) != 1 or named_sides(replace(tag, sides=())):
        return None                          # no side, both, or a lingula / middle lobe
    if kind == "tube" and (tag.has("abdomen") or tag.has("trachea") or tag.has("trachea, carina")):
        return None                          # a nasogastric or endotracheal tube has no side
    if kind == "implanted device" and (tag.has("aortic valve") or tag.has("heart")
                                       or tag.has("mitral valve")):
        return None                          # a valve ring sits in the midline
    return tag.sides[0]


def shown_severity(kind: str, tag: Tag) -> str | None:
    """The one severity word of the tag, when the phantom draws it and it has a swap."""
    if kind not in GRADED or (kind == "hyperinflation" and tag.finding == "diaphragm"):
        return None                          # a flattened diaphragm is drawn at one size
    words = [_norm(p) for p in _parts(tag.raw)[1:] if _norm(p) in SEVERITY]
    if len(set(words)) != 1 or words[0] not in SEVERITY_SWAP:
        return None
    return words[0]


def shown_zone(kind: str, tag: Tag) -> str | None:
    """The one lung zone the tag names, when the phantom draws it there and it is an upper or
    lower zone (apex, upper lobe, lower lobe, base)."""
    if kind not in ZONED:
        return None
    zones = {z for z in tag.zones if z in ZONES}
    if len(zones) != 1 or next(iter(zones)) not in ZONE_SWAP:
        return None
    return next(iter(zones))


def _severity_target(kind: str, word: str) -> str:
    if word == "moderate" and kind in SIZED:
        return "small"
    return SEVERITY_SWAP[word]


def _order(key: str, names: Sequence[str]) -> list[str]:
    """`names` in an order fixed by `key` (so additions are a seeded choice per report)."""
    def rank(name: str) -> bytes:
        text = f"{key}:{name}".encode("utf-8", "surrogatepass")
        return hashlib.blake2b(text, digest_size=8).digest()

    return sorted(names, key=rank)


def tag_edits(tags: Sequence[str], key: str = "") -> list[Edit]:
    """Every edit the tags allow, family by family: in-place edits and removals in tag order,
    additions (one per absent kind, drawn as that kind's gallery example) in an order fixed by
    `key` (the report id), so that taking the first few is a reproducible random choice."""
    tags = tuple(tags)
    parsed = [parse_tag(raw) for raw in tags]
    kinds = [classify(tag) for tag in parsed]
    count = {kind: kinds.count(kind) for kind in kinds if kind is not None}
    edits: list[Edit] = []

    def rewrite(family: str, index: int, before: str, after: str) -> None:
        new = _replace_qualifier(tags[index], before, after)
        edited = tags[:index] + (new,) + tags[index + 1:]
        edits.append(Edit(family, kinds[index], before, after, edited, index, tags[index], new))

    for index, (tag, kind) in enumerate(zip(parsed, kinds)):
        if kind is None or kind == "normal" or count[kind] > 1:
            continue
        if (side := shown_side(kind, tag)) is not None:
            rewrite("laterality", index, side, "left" if side == "right" else "right")
        family = "device" if kind in DEVICES else "presence"
        remaining = tags[:index] + tags[index + 1:]
        edits.append(Edit(family, kind, PRESENT, ABSENT, remaining or ("normal",), index,
                          tags[index], None))
        if (word := shown_severity(kind, tag)) is not None:
            rewrite("severity", index, word, _severity_target(kind, word))
        if (zone := shown_zone(kind, tag)) is not None:
            rewrite("location", index, zone, ZONE_SWAP[zone])
    present = set(count)
    kept = tuple(raw for raw, kind in zip(tags, kinds) if kind != "normal")
    for kind in _order(key, [k for k in DRAWABLE_FINDINGS if k != "normal" and k not in present
                             and EXCLUSIVE.get(k) not in present]):
        example = DRAWABLE_FINDINGS[kind].example
        edits.append(Edit("device" if kind in DEVICES else "presence", kind, ABSENT, PRESENT,
                          kept + (example,), None, None, example))
    order = {family: rank for rank, family in enumerate(FAMILIES)}
    return sorted(edits, key=lambda e: order[e.family])     # stable: tag order within a family


def select_edits(edits: Sequence[Edit], max_additions: int | None = 2,
                 keep: Callable[[Edit], bool] | None = None) -> list[Edit]:
    """`edits` in order, with at most `max_additions` added findings per family (None: all).
    `keep(edit)` may refuse an edit (its image or text did not change); a refused addition does
    not count, so the next one in the seeded order takes its place."""
    added: dict[str, int] = {}
    chosen = []
    for edit in edits:
        if edit.index is None and max_additions is not None \
                and added.get(edit.family, 0) >= max_additions:
            continue
        if keep is not None and not keep(edit):
            continue
        if edit.index is None:
            added[edit.family] = added.get(edit.family, 0) + 1
        chosen.append(edit)
    return chosen


def edit_streams(tags: Sequence[str], edit: Edit) -> list[str] | None:
    """The random-stream names of `edit.tags`: an in-place edit keeps the original tag's stream
    (same shape, other side or size); otherwise every tag is its own stream (None)."""
    if edit.family not in IN_PLACE:
        return None
    streams = list(edit.tags)
    streams[edit.index] = tags[edit.index]
    return streams


def render_edit(tags: Sequence[str], edit: Edit, seed: int, size: int = DEFAULT_SIZE) -> np.ndarray:
    """The counterfactual image (uint8 [size, size]): `edit.tags` drawn with the seed of the
    original image `render_phantom(tags, seed, size)`."""
    return render_phantom(edit.tags, seed, size, streams=edit_streams(tags, edit)).image


def edit_region(tags: Sequence[str], edit: Edit, seed: int, size: int = DEFAULT_SIZE) -> np.ndarray:
    """Where the original and the counterfactual image may differ (bool [size, size]): the
    region of the tag as it was, in the original, and of the tag as it becomes, in the edit."""
    region = np.zeros((size, size), dtype=bool)
    if edit.tag_before is not None:
        region |= finding_region(tags, seed, edit.index, size)
    if edit.tag_after is not None:
        after = len(edit.tags) - 1 if edit.index is None else edit.index
        region |= finding_region(edit.tags, seed, after, size, streams=edit_streams(tags, edit))
    return region


@dataclass(frozen=True)
class Counterfactuals:
    """A report's image and the edits made of it, each with its counterfactual image. `hidden`
    are the edits whose image came out unchanged (a finding behind the heart, say): not made."""

    original: np.ndarray
    made: list[tuple[Edit, np.ndarray]]
    hidden: list[Edit]


def counterfactuals(tags: Sequence[str], key: str, seed: int, size: int = DEFAULT_SIZE, *,
                    max_additions: int | None = 2,
                    accept: Callable[[Edit], bool] | None = None) -> Counterfactuals:
    """The edits of `tags` (`tag_edits` with `key`, `select_edits` with `max_additions`) that
    change the image and that `accept` (e.g. "the report's text could be edited") takes."""
    original = render_phantom(tags, seed, size).image
    made: list[tuple[Edit, np.ndarray]] = []
    hidden: list[Edit] = []

    def keep(edit: Edit) -> bool:
        if accept is not None and not accept(edit):     # first: a text edit costs less than a render
            return False
        image = render_edit(tags, edit, seed, size)
        if np.array_equal(image, original):
            hidden.append(edit)
            return False
        made.append((edit, image))
        return True

    select_edits(tag_edits(tags, key), max_additions, keep)
    return Counterfactuals(original, made, hidden)
