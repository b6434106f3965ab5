"""Parse Open-I MeSH tags (`Finding/qualifier/qualifier...`) into finding, sides, zones, severity.

Open-I writes one tag per finding with its qualifiers in no fixed order
(`Pleural Effusion/right/small`, `Calcinosis/lung/hilum/lymph nodes/right`), so every qualifier
is classified by vocabulary rather than by position. Unknown qualifiers are kept as modifiers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SIDES = {"right": ("right",), "left": ("left",), "bilateral": ("right", "left")}
#: Severity words mapped to a scale: 0.6 borderline, 1 mild/small, 2 moderate, 3 severe/large.
SEVERITY = {"borderline": 0.6, "mild": 1.0, "small": 1.0, "moderate": 2.0,
            "large": 3.0, "severe": 3.0}
ZONES = frozenset({
    "apex", "upper lobe", "middle lobe", "lower lobe", "base", "lingula", "hilum", "retrocardiac",
    "costophrenic angle", "lung", "pleura", "mediastinum", "abdomen", "aorta", "aorta, thoracic",
    "aortic valve", "heart", "thorax", "trachea", "trachea, carina", "paratracheal", "humerus",
    "shoulder", "clavicle", "ribs", "breast", "neck", "sternum", "thoracic vertebrae",
    "lumbar vertebrae", "cervical vertebrae", "spine", "lymph nodes", "blood vessels",
    "coronary vessels", "mitral valve", "bronchi", "sulcus", "azygos lobe",
})
MULTIPLE = frozenset({"multiple", "scattered", "diffuse", "multilobar"})


@dataclass(frozen=True)
class Tag:
    """One MeSH tag, parsed. `sides` is empty when the tag names no side."""

    raw: str
    finding: str
    sides: tuple[str, ...] = ()
    zones: tuple[str, ...] = ()
    severity: float | None = None
    multiple: bool = False
    modifiers: tuple[str, ...] = ()

    def has(self, word: str) -> bool:
        """Whether `word` appears among the zones or modifiers."""
        return word in self.zones or word in self.modifiers


def _norm(part: str) -> str:
    return re.sub(r"\s+", " ", part).strip().lower()


def parse_tag(raw: str) -> Tag:
    """Split `raw` on '/' and sort each qualifier into side, zone, severity or modifier."""
    parts = [_norm(p) for p in raw.split("/")]
    parts = [p for p in parts if p]
    if not parts:
        return Tag(raw=raw, finding="")
    sides: list[str] = []
    zones: list[str] = []
    modifiers: list[str] = []
    severity: float | None = None
    multiple = False
    for part in parts[1:]:
        if part in SIDES:
            sides.extend(s for s in SIDES[part] if s not in sides)
        elif part in SEVERITY:
            severity = max(severity or 0.0, SEVERITY[part])
        elif part in ZONES:
            zones.append(part)
        elif part in MULTIPLE:
            multiple = True
        else:
            modifiers.append(part)
    return Tag(raw=raw, finding=parts[0], sides=tuple(sides), zones=tuple(zones),
               severity=severity, multiple=multiple, modifiers=tuple(modifiers))
