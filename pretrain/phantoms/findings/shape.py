"""Findings that change the shape of the chest: heart size, lung inflation, diaphragm height,
aorta and mediastinum, and a hiatal hernia behind the heart."""

from __future__ import annotations

import numpy as np

from pretrain.data.tags import Tag
from pretrain.phantoms.anatomy import Anatomy
from pretrain.phantoms.canvas import Canvas
from pretrain.phantoms.drawing import ellipse, polyline, soft_step
from pretrain.phantoms.findings.registry import named_sides, register, severity


def adjust_cardiomegaly(tag: Tag, a: Anatomy) -> None:
    """Cardiothoracic ratio ≈ 0.47 normal, 0.55 mild, 0.62 moderate, 0.70 severe."""
    factor = 1 + 0.17 * severity(tag)
    a.heart_left *= factor
    a.heart_right *= 1 + 0.8 * (factor - 1)
    a.heart_half_height *= 1 + 0.3 * (factor - 1)


def _lower_lungs(a: Anatomy, amount: float) -> None:
    for side in a.dome_top:
        a.dome_top[side] += amount


def adjust_hyperinflation(tag: Tag, a: Anatomy) -> None:
    """Tall lungs over low, flat domes; the heart hangs long and narrow; lungs more lucent."""
    level = severity(tag, 1.5)
    flatten_only = tag.finding == "diaphragm"
    _lower_lungs(a, (0.05 if flatten_only else 0.07 + 0.03 * level))
    for side in a.dome_height:
        a.dome_height[side] *= 0.35
    if not flatten_only:
        a.heart_left *= 0.93
        a.heart_right *= 0.93
        a.heart_centre_y += 0.05
        a.lung_air *= 1.12


def adjust_hypoinflation(tag: Tag, a: Anatomy) -> None:
    """Short lungs over high domes; the heart lies broad on the diaphragm."""
    level = severity(tag, 1.5)
    for side in a.dome_top:
        a.dome_top[side] -= 0.08 + 0.03 * level
    a.heart_centre_y -= 0.05
    a.heart_left *= 1.05
    a.heart_right *= 1.05
    a.lung_air *= 0.9


def adjust_elevated_diaphragm(tag: Tag, a: Anatomy) -> None:
    for side in named_sides(tag) or ("right",):
        a.dome_top[side] -= 0.06 + 0.05 * severity(tag, 1.5)


def adjust_aorta(tag: Tag, a: Anatomy) -> None:
    """Tortuous or prominent aorta: a larger aortic knob."""
    a.knob_radius *= 1.3 + 0.15 * severity(tag, 1.5)


def draw_aortic_calcification(tag: Tag, canvas: Canvas, rng: np.random.Generator) -> None:
    """A thin bright crescent just inside the upper outline of the aortic knob."""
    a = canvas.anatomy
    border = a.midline + a.mediastinum_half_width * (1 + 0.15 * max(a.knob_y + 0.3, 0)) \
        + a.knob_radius
    cx, cy, radius = border - a.knob_radius, a.knob_y, a.knob_radius * 0.85
    angles = np.linspace(-1.9, -0.2, 8) + rng.uniform(-0.2, 0.2)
    arc = np.stack([cx + radius * np.cos(angles), cy + radius * np.sin(angles)], axis=1)
    rows, cols = canvas.region(cx - radius - 0.03, cx + radius + 0.03, cy - radius - 0.03, cy)
    canvas.density[rows, cols] += 0.3 * polyline(canvas.x[rows, cols], canvas.y[rows, cols], arc,
                                                 0.011, canvas.edge)


def adjust_mediastinum(tag: Tag, a: Anatomy) -> None:
    a.mediastinum_half_width *= 1.25 + 0.1 * severity(tag, 1.0)


def draw_hiatal_hernia(tag: Tag, canvas: Canvas, rng: np.random.Generator) -> None:
    """A round retrocardiac density with an air-fluid level."""
    a = canvas.anatomy
    radius = 0.05 + 0.025 * severity(tag, 1.5)
    cx, cy = a.midline + 0.04, a.heart_centre_y + 0.05
    region, x, y = canvas.local(cx - 1.3 * radius, cx + 1.3 * radius, cy - 1.1 * radius,
                                cy + 1.1 * radius)
    sac = ellipse(x, y, cx, cy, radius * 1.2, radius, canvas.edge)
    level = cy + rng.uniform(-0.2, 0.1) * radius
    canvas.air[region] += 0.3 * sac * soft_step(level - y, canvas.edge)
    rim = sac - ellipse(x, y, cx, cy, radius * 1.2 - 0.01, radius - 0.01, canvas.edge)
    canvas.density[region] += 0.08 * rim


register("cardiomegaly", "Cardiomegaly/severe", adjust=adjust_cardiomegaly)
register("hyperinflation", "Lung/hyperdistention/severe", adjust=adjust_hyperinflation)
register("hypoinflation", "Lung/hypoinflation/severe", adjust=adjust_hypoinflation)
register("elevated hemidiaphragm", "Diaphragm/left/elevated/severe",
         adjust=adjust_elevated_diaphragm)
register("tortuous aorta", "Aorta/tortuous/severe", adjust=adjust_aorta)
register("aortic calcification", "Calcinosis/aorta", draw=draw_aortic_calcification)
register("wide mediastinum", "Mediastinum/prominent/severe", adjust=adjust_mediastinum)
register("hiatal hernia", "Hernia, Hiatal/large", draw=draw_hiatal_hernia)
