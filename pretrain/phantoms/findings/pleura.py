"""Pleural findings: effusion (fluid with a meniscus, blunting the costophrenic angle) and
pneumothorax (a lucent rim without lung markings outside a visceral pleural line)."""

from __future__ import annotations

import numpy as np

from pretrain.data.tags import Tag
from pretrain.phantoms.anatomy import SIGN
from pretrain.phantoms.canvas import Canvas
from pretrain.phantoms.drawing import soft_step, unit
from pretrain.phantoms.findings.registry import register, severity, sides

#: Height of the fluid at the chest wall, as a fraction of the lung height, by severity.
EFFUSION_HEIGHT = {0.6: 0.1, 1.0: 0.15, 1.5: 0.24, 2.0: 0.34, 3.0: 0.55}


def _effusion_height(level: float) -> float:
    keys = sorted(EFFUSION_HEIGHT)
    return float(np.interp(level, keys, [EFFUSION_HEIGHT[k] for k in keys]))


def draw_effusion(tag: Tag, canvas: Canvas, rng: np.random.Generator) -> None:
    a = canvas.anatomy
    level = 1.0 if tag.finding == "costophrenic angle" and tag.severity is None else severity(tag)
    for side in sides(tag, "bilateral", rng):
        height = _effusion_height(level) * canvas.lung_height(side) * rng.uniform(0.9, 1.1)
        wall = a.side_x(side, a.lung_offset + a.lung_half_width)
        angle_y = float(canvas.dome_y(side, wall))
        medial = a.side_x(side, a.lung_offset - a.lung_half_width)
        region, x, y = canvas.local(min(a.midline, wall) - 0.05, max(a.midline, wall) + 0.05,
                                    angle_y - height - 0.1, angle_y + 0.3)
        lateral = unit((x - medial) / (wall - medial))
        surface = angle_y - height * (0.5 + 0.5 * lateral ** 4)     # meniscus, rising laterally
        depth = unit((y - surface) / (0.6 * height + 1e-3))
        fluid = soft_step(y - surface, canvas.edge * 3) * (0.7 + 0.3 * depth)
        fluid = fluid * (SIGN[side] * (x - a.midline) > 0)
        canvas.opacify(fluid, region)
        canvas.markings_visible[region] *= 1 - fluid
        canvas.density[region] += 0.05 * fluid * canvas.lung[side][region]


def draw_pneumothorax(tag: Tag, canvas: Canvas, rng: np.random.Generator) -> None:
    a, x, y = canvas.anatomy, canvas.x, canvas.y
    level = severity(tag)
    for side in sides(tag, "right", rng):
        rim = 0.07 + 0.07 * level          # thickness of the air rim in outline units
        pleural_line = 1 - rim
        f = canvas.outline[side]
        lateral = SIGN[side] * (x - a.side_x(side, a.lung_offset)) / a.lung_half_width
        reach = soft_step(lateral + 0.2, 0.15)                # lateral and apical, not medial
        if level < 2:                                         # small: apical only
            reach = reach * soft_step((a.lung_top + 0.45 * canvas.lung_height(side)) - y, 0.1)
        space = soft_step(f - pleural_line, canvas.edge * 2 / a.lung_half_width) * reach
        space = space * canvas.lung[side]
        canvas.markings_visible *= 1 - space
        canvas.air += 0.2 * space
        line = np.exp(-((f - pleural_line) / (0.9 * canvas.edge / a.lung_half_width)) ** 2)
        canvas.density += 0.07 * line * reach * canvas.lung[side]
        collapsed = canvas.lung[side] * (1 - space) * (f < pleural_line)
        canvas.opacify((0.1 + 0.12 * (level - 1)) * collapsed)


register("pleural effusion", "Pleural Effusion/right/large", draw=draw_effusion)
register("pneumothorax", "Pneumothorax/left/large", draw=draw_pneumothorax)
