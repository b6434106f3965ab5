"""Skeletal findings: degenerative spine (osteophytes at the vertebral corners, sclerotic
endplates) and scoliosis (a lateral curve of the spine)."""

from __future__ import annotations

import numpy as np

from pretrain.data.tags import Tag
from pretrain.phantoms.anatomy import SIGN, Anatomy
from pretrain.phantoms.canvas import Canvas
from pretrain.phantoms.findings.registry import named_sides, register, severity


def draw_degenerative_spine(tag: Tag, canvas: Canvas, rng: np.random.Generator) -> None:
    a = canvas.anatomy
    level = severity(tag, 1.5)
    reach = abs(a.spine_curve) + a.spine_half_width + 0.1
    region, x, y = canvas.local(a.midline - reach, a.midline + reach, -0.9, 0.6)
    dx = np.abs(x - canvas.spine_x(y)) - a.spine_half_width
    phase = ((y + 1.0) / a.vertebra_height + 0.5) % 1.0 - 0.5     # 0 at each disc
    size = 0.012 + 0.007 * level
    vertebra = np.floor((y + 1.0) / a.vertebra_height + 0.5)
    present = np.sin(vertebra * 12.9898 + rng.uniform(0, 6.28)) > -0.4    # not at every level
    spur = np.exp(-(np.maximum(dx, 0) / size) ** 2 - (phase / 0.1) ** 2) * (dx > -0.01)
    thoracic = (y > -0.85) & (y < 0.55)
    endplates = np.exp(-((np.abs(phase) - 0.16) / 0.05) ** 2) * (dx < 0)
    canvas.density[region] += (0.25 * spur * present + 0.04 * level * endplates) * thoracic


def adjust_scoliosis(tag: Tag, a: Anatomy) -> None:
    """Convex to the named side (Open-I names the side of the convexity)."""
    side = (named_sides(tag) or ("right",))[0]
    a.spine_curve = SIGN[side] * (0.06 + 0.03 * severity(tag, 1.5))


register("degenerative spine", "Thoracic Vertebrae/degenerative/severe",
         draw=draw_degenerative_spine)
register("scoliosis", "Scoliosis/thoracic vertebrae/right/severe", adjust=adjust_scoliosis)
