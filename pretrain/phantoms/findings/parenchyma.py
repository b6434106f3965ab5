"""Lung parenchyma: airspace opacity (consolidation, pneumonia, infiltrate), atelectasis and scars
(plate-like bands), nodules, masses and (calcified) granulomas, and congestion/oedema."""

from __future__ import annotations

import numpy as np

from pretrain.data.tags import Tag
from pretrain.phantoms.anatomy import SIGN
from pretrain.phantoms.canvas import SIDES, Canvas
from pretrain.phantoms.drawing import blob, ellipse, polyline, smooth_noise, unit
from pretrain.phantoms.findings.registry import named_sides, register, severity, sides

#: zone → (lateral 0..1, down 0..1, half-width, half-height) of the region it names in a lung.
ZONES = {
    "apex": (0.55, 0.08, 0.16, 0.09),
    "upper lobe": (0.55, 0.27, 0.2, 0.15),
    "hilum": (0.12, 0.5, 0.1, 0.09),
    "middle lobe": (0.28, 0.68, 0.17, 0.11),
    "lingula": (0.3, 0.64, 0.17, 0.11),
    "lower lobe": (0.5, 0.8, 0.24, 0.16),
    "base": (0.5, 0.9, 0.26, 0.09),
    "costophrenic angle": (0.85, 0.93, 0.1, 0.07),
    "retrocardiac": (0.05, 0.85, 0.12, 0.1),
}


def zones_of(tag: Tag, default: str) -> list[str]:
    return [z for z in tag.zones if z in ZONES] or [default]


def _texture(rng: np.random.Generator, canvas: Canvas, region, cells: int) -> np.ndarray:
    """Smooth noise in [-1, 1] on `region`, `cells` bumps across the whole image's width."""
    rows, cols = region
    height, width = rows.stop - rows.start, cols.stop - cols.start
    scale = cells / canvas.size
    return np.clip(smooth_noise(rng, (height, width), (round(height * scale) + 2,
                                                        round(width * scale) + 2)), -1, 1)


def draw_airspace(tag: Tag, canvas: Canvas, rng: np.random.Generator) -> None:
    """Patchy density: air replaced by fluid, denser for consolidation than for infiltrate."""
    strength = {"consolidation": 0.9, "pneumonia": 0.85, "airspace disease": 0.75,
                "infiltrate": 0.6}.get(tag.finding, 0.7)
    grow = 0.8 + 0.15 * severity(tag, 1.5)
    for side in sides(tag, "bilateral", rng):
        for zone in zones_of(tag, "lower lobe"):
            lateral, down, hw, hh = ZONES[zone]
            cx, cy = canvas.lung_point(side, lateral + rng.uniform(-0.05, 0.05),
                                       down + rng.uniform(-0.03, 0.03))
            sx, sy = hw * grow, hh * grow
            region, x, y = canvas.local(cx - 2 * sx, cx + 2 * sx, cy - 2 * sy, cy + 2 * sy)
            patch = unit(1.8 * blob(x, y, cx, cy, sx, sy) - 0.35)
            texture = 0.75 + 0.25 * _texture(rng, canvas, region, 14)
            canvas.opacify(strength * patch * texture * canvas.on_side(side)[region], region)


def draw_atelectasis(tag: Tag, canvas: Canvas, rng: np.random.Generator) -> None:
    """Plate-like (linear) densities, roughly horizontal, with a faint haze around them."""
    level = severity(tag, 1.0)
    bands = 1 if level < 2 else 2
    for side in sides(tag, "bilateral", rng):
        for zone in zones_of(tag, "base"):
            lateral, down, hw, hh = ZONES[zone]
            for band in range(bands):
                cx, cy = canvas.lung_point(side, lateral + rng.uniform(-0.08, 0.08),
                                           min(down, 0.86) - 0.06 * band
                                           + rng.uniform(-0.02, 0.02))
                half = hw * rng.uniform(0.8, 1.1)
                tilt = rng.uniform(-0.06, 0.1) * SIGN[side]
                points = np.array([[cx - half, cy - tilt], [cx, cy + rng.uniform(-0.015, 0.015)],
                                   [cx + half, cy + tilt]])
                region, x, y = canvas.local(cx - 3 * half, cx + 3 * half, cy - 0.2, cy + 0.2)
                plate = polyline(x, y, points, 0.018 + 0.006 * level, canvas.edge * 3)
                haze = blob(x, y, cx, cy, half * 0.9, 0.05)
                canvas.opacify((0.5 * plate + 0.25 * haze) * canvas.on_side(side)[region],
                               region)


#: finding → (radius range, fluid (aeration loss), added density, edge softness in pixels)
NODULES = {
    "nodule": ((0.022, 0.035), 0.8, 0.03, 2.5),
    "mass": ((0.07, 0.11), 0.8, 0.0, 5.0),
    "granuloma": ((0.014, 0.022), 0.9, 0.15, 1.5),
    "calcified granuloma": ((0.013, 0.02), 0.95, 0.35, 1.0),
}


def _nodule_drawer(name: str):
    radius_range, fluid, extra, softness = NODULES[name]

    def draw(tag: Tag, canvas: Canvas, rng: np.random.Generator) -> None:
        count = int(rng.integers(3, 7)) if tag.multiple or tag.finding == "granulomatous disease" \
            else 1
        chosen = [z for z in tag.zones if z in ZONES]
        named = named_sides(tag)
        for index in range(count):
            side = named[index % len(named)] if named else ("right", "left")[int(rng.integers(2))]
            if chosen:
                lateral, down, hw, hh = ZONES[chosen[index % len(chosen)]]
                lateral += rng.uniform(-1, 1) * hw
                down += rng.uniform(-1, 1) * hh
            else:
                lateral, down = rng.uniform(0.25, 0.85), rng.uniform(0.15, 0.8)
            cx, cy = canvas.lung_point(side, float(np.clip(lateral, 0.05, 0.95)),
                                       float(np.clip(down, 0.05, 0.92)))
            radius = rng.uniform(*radius_range) * (1.2 if tag.has("large") else 1.0)
            reach = 2 * radius + canvas.edge * softness
            region, x, y = canvas.local(cx - reach, cx + reach, cy - reach, cy + reach)
            shape = ellipse(x, y, cx, cy, radius * rng.uniform(0.9, 1.1), radius,
                            canvas.edge * softness)
            if name == "mass":       # lobulated
                shape = np.maximum(shape, ellipse(x, y, cx + radius * 0.5, cy - radius * 0.4,
                                                  radius * 0.7, radius * 0.7,
                                                  canvas.edge * softness))
            canvas.opacify(fluid * shape, region)
            canvas.density[region] += extra * shape
    return draw


def draw_edema(tag: Tag, canvas: Canvas, rng: np.random.Generator) -> None:
    """Congestion: fuller vessels and hila; oedema adds a perihilar haze and Kerley lines."""
    level = severity(tag, 1.5)
    canvas.vessel_gain *= 1.3 + 0.2 * level
    if tag.finding not in ("pulmonary edema", "heart failure"):
        return
    for side in SIDES:
        cx, cy = canvas.lung_point(side, 0.25, 0.55)
        sx, sy = 0.2 + 0.04 * level, 0.26
        region, x, y = canvas.local(cx - 2.5 * sx, cx + 2.5 * sx, cy - 2.5 * sy, cy + 2.5 * sy)
        reticular = 0.5 + 0.5 * _texture(rng, canvas, region, 40)
        canvas.opacify((0.2 + 0.1 * level) * blob(x, y, cx, cy, sx, sy) * (0.6 + 0.4 * reticular)
                       * canvas.on_side(side)[region], region)
        for line in range(2 + int(level)):   # Kerley B lines at the lateral bases
            lx, ly = canvas.lung_point(side, 0.97, 0.9 - 0.04 * line)
            inward = -SIGN[side] * rng.uniform(0.035, 0.055)
            region, kerley = canvas.stroke([[lx, ly], [lx + inward, ly]], 0.008)
            canvas.opacify(0.4 * kerley * canvas.lung[side][region], region)


register("airspace opacity", "Consolidation/lung/lower lobe/left", draw=draw_airspace)
register("atelectasis", "Pulmonary Atelectasis/base/right", draw=draw_atelectasis)
for _name, _example in [("nodule", "Nodule/lung/upper lobe/right"),
                        ("mass", "Mass/lung/upper lobe/left"),
                        ("granuloma", "Granuloma/lung/lower lobe/right"),
                        ("calcified granuloma", "Calcified Granuloma/multiple")]:
    register(_name, _example, draw=_nodule_drawer(_name))
register("congestion", "Pulmonary Edema/interstitial/moderate", draw=draw_edema)
