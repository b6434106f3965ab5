"""Draw the normal chest onto a canvas: soft tissue, heart and mediastinum, lungs, diaphragm,
spine, ribs, clavicles, airways and gastric gas."""

from __future__ import annotations

import numpy as np

from pretrain.phantoms.canvas import SIDES, Canvas
from pretrain.phantoms.drawing import ellipse, polyline, soft_step, unit
from pretrain.phantoms.vessels import draw_vessels


def draw_thorax(canvas: Canvas) -> None:
    """Fill the anatomy layers of `canvas` (findings are drawn afterwards)."""
    silhouette = _cardiomediastinal(canvas)
    _lungs(canvas, silhouette)
    _body(canvas, silhouette)
    _spine(canvas)
    _ribs(canvas)
    _clavicles(canvas)
    _airways(canvas)
    draw_vessels(canvas)


def _smooth_max(a: np.ndarray, b: np.ndarray, softness: float = 0.03) -> np.ndarray:
    """max(a, b) with a rounded corner (polynomial blend), so silhouette borders join without
    kinks."""
    h = unit(0.5 + (a - b) / (2 * softness))
    return b + (a - b) * h + softness * h * (1 - h)


def _cardiomediastinal(canvas: Canvas) -> np.ndarray:
    """Heart and mediastinum as one silhouette between a right border (SVC, right atrium) and a
    left border (aortic knob, pulmonary trunk, left ventricle). The heart keeps its width down to
    the diaphragm, which hides its lower edge."""
    a = canvas.anatomy
    hc, hh = a.heart_centre_y, a.heart_half_height
    lowest = max(hc + hh, max(a.dome_top.values()) + 0.15)     # the heart rests on the diaphragm
    reach = max(a.heart_left, a.heart_right,
                a.mediastinum_half_width * 1.2 + 1.3 * a.knob_radius + 0.04) + 0.1
    rows, cols = canvas.region(a.midline - reach, a.midline + reach, -1.2, lowest + 0.15)
    x, y = canvas.x[rows, cols], canvas.y[rows, cols]
    upper = a.mediastinum_half_width * (1 + 0.15 * unit(y + 0.3))
    knob = a.knob_radius * np.exp(-((y - a.knob_y) / (a.knob_radius * 1.4)) ** 2)
    trunk = 0.035 * np.exp(-((y - a.knob_y - 2.4 * a.knob_radius) / 0.06) ** 2)
    rise_l = unit((hc + 0.05 - y) / (1.25 * hh))
    rise_r = unit((hc - y) / (1.1 * hh))
    fall = unit((y - hc - 0.05) / hh)         # the left ventricle curves to the apex
    heart_l = a.heart_left * np.sqrt(1 - rise_l ** 2) * (1 - 0.15 * fall ** 2)
    heart_r = a.heart_right * np.sqrt(1 - rise_r ** 2)
    dx = x - a.midline
    left = _smooth_max(upper + knob + trunk, heart_l)
    right = _smooth_max(upper, heart_r)
    bottom = soft_step(lowest - y, 0.05)
    canvas.heart[rows, cols] = soft_step(np.minimum(heart_l - dx, heart_r + dx),
                                         canvas.edge) * bottom
    silhouette = np.zeros_like(canvas.x)
    silhouette[rows, cols] = soft_step(np.minimum(left - dx, right + dx), canvas.edge) * bottom
    return silhouette


def _lungs(canvas: Canvas, silhouette: np.ndarray) -> None:
    a, edge = canvas.anatomy, canvas.edge
    base = max(a.dome_top.values()) + max(a.dome_height.values())
    for side in SIDES:
        reach = a.lung_offset + a.lung_half_width + 0.05
        rows, cols = canvas.region(min(a.midline, a.side_x(side, reach)),
                                   max(a.midline, a.side_x(side, reach)), a.lung_top - 0.05,
                                   a.dome_top[side] + 2 * a.dome_height[side] + 0.1)
        x, y = canvas.x[rows, cols], canvas.y[rows, cols]
        dx = (x - a.side_x(side, a.lung_offset)) / a.lung_half_width
        dy = np.minimum(y - base, 0) / (base - a.lung_top)   # round apex, straight lower walls
        f = np.sqrt(dx * dx + dy * dy)
        inside = soft_step((1 - f) * a.lung_half_width, edge)
        above_dome = soft_step(canvas.dome_y(side, x) - y, edge)
        own_side = canvas.on_side(side)[rows, cols]
        canvas.outline[side] = np.full_like(canvas.x, 9.0)      # far outside, off the region
        canvas.outline[side][rows, cols] = f
        canvas.lung[side] = np.zeros_like(canvas.x)
        canvas.lung[side][rows, cols] = inside * above_dome * (1 - silhouette[rows, cols]) \
            * own_side
        canvas.depth[side] = np.zeros_like(canvas.x)
        canvas.depth[side][rows, cols] = 0.65 + 0.35 * np.sqrt(unit(1 - f * f))


def _body(canvas: Canvas, silhouette: np.ndarray) -> None:
    a, x, y = canvas.anatomy, canvas.x, canvas.y
    shoulder = unit((y + 1.05) / 0.3)
    shoulder = shoulder * shoulder * (3 - 2 * shoulder)
    half_width = 0.32 + (a.body_width + 0.06 - 0.32) * shoulder - 0.05 * unit(y) ** 2
    centre = a.midline * 0.5
    chord = np.sqrt(unit(1 - ((x - centre) / half_width) ** 2))
    body = a.soft_tissue * (0.25 + 0.55 * chord) * soft_step(
        half_width - np.abs(x - centre), canvas.edge * 2)
    cage = a.lung_offset + a.lung_half_width
    liver = soft_step(y - canvas.dome_y("right", x), canvas.edge) * (x < a.midline + 0.1)
    liver = liver * soft_step(cage - np.abs(x - a.midline), 0.04)
    canvas.body += body + 0.05 * a.soft_tissue * liver + 0.05 * silhouette
    if a.breasts:    # soft-tissue shadows over the lower zones: a curved lower margin,
        for side in SIDES:   # fading out upwards
            cx, cy = a.side_x(side, a.lung_offset + 0.1), a.dome_top[side] - 0.02
            shadow = ellipse(x, y, cx, cy, 0.36, 0.24, 0.03)
            fade = unit((y - (cy - 0.24)) / 0.3)
            canvas.body += 0.1 * a.soft_tissue * shadow * fade


def _spine(canvas: Canvas) -> None:
    a = canvas.anatomy
    rows, cols = canvas.region(a.midline - 0.35, a.midline + 0.35, -1.2, 1.2)
    x, y = canvas.x[rows, cols], canvas.y[rows, cols]
    dx = x - canvas.spine_x(y)
    phase = ((y + 1.0) / a.vertebra_height) % 1.0
    column = soft_step(a.spine_half_width - np.abs(dx), canvas.edge)
    disc = soft_step(phase - 0.16, canvas.edge / a.vertebra_height)
    endplate = np.exp(-((phase - 0.2) / 0.05) ** 2) + np.exp(-((phase - 0.97) / 0.04) ** 2)
    pedicle = np.exp(-((np.abs(dx) - 0.72 * a.spine_half_width) / 0.014) ** 2
                     - ((phase - 0.5) / 0.16) ** 2)
    spinous = np.exp(-(dx / 0.012) ** 2 - ((phase - 0.75) / 0.12) ** 2)
    canvas.bones[rows, cols] += (column * (0.05 + 0.04 * disc + 0.03 * endplate)
                                 + 0.04 * pedicle + 0.03 * spinous)


def _ribs(canvas: Canvas) -> None:
    a = canvas.anatomy
    cage = a.lung_offset + a.lung_half_width * 1.02
    rows, cols = canvas.region(a.midline - cage - 0.1, a.midline + cage + 0.1,
                               a.rib_start - 0.1, max(a.dome_top.values()) + 0.45)
    x, y = canvas.x[rows, cols], canvas.y[rows, cols]
    d = np.abs(x - canvas.spine_x(y))
    inside = soft_step(cage - d, canvas.edge * 3) * soft_step(d - a.spine_half_width * 0.8,
                                                              canvas.edge)
    # posterior ribs: rise a little from the spine, then slope down to the chest wall
    t = (y - (-0.3 * d + 0.9 * d * d) - a.rib_start) / a.rib_spacing
    k = np.floor(t)
    phase = t - k
    thick = 0.42
    band = soft_step(np.minimum(phase, thick - phase) * a.rib_spacing, canvas.edge)
    centre = np.abs(2 * phase / thick - 1)
    cortex = 1 + 0.7 * centre * centre * centre
    posterior = band * cortex * ((k >= 0) & (k < 10)) * (0.9 - 0.3 * d)
    # anterior ribs: fainter, slope down towards the sternum
    ta = (y - 0.5 * (cage - d) - (a.rib_start + 0.02)) / (a.rib_spacing * 1.2)
    ka = np.floor(ta)
    phase_a = ta - ka
    band_a = soft_step(np.minimum(phase_a, 0.3 - phase_a) * a.rib_spacing, canvas.edge)
    anterior = band_a * ((ka >= 0) & (ka < 6)) * soft_step(d - 0.25, canvas.edge * 8)
    canvas.bones[rows, cols] += inside * (0.07 * posterior + 0.03 * anterior)


def _clavicles(canvas: Canvas) -> None:
    a = canvas.anatomy
    rows, cols = canvas.region(-0.75, 0.75, a.clavicle_y - 0.2, a.clavicle_y + 0.08)
    x, y = canvas.x[rows, cols], canvas.y[rows, cols]
    d = np.abs(x - a.midline)
    t = unit((d - 0.05) / 0.58)
    centre = a.clavicle_y - 0.1 * t + 0.05 * np.sin(np.pi * t)
    half = 0.022 + 0.012 * (1 - t)
    offset = np.abs(y - centre)
    band = soft_step(half - offset, canvas.edge) * soft_step(d - 0.05, canvas.edge)
    band = band * soft_step(0.63 - d, canvas.edge * 2)
    canvas.bones[rows, cols] += band * (0.1 + 0.08 * (offset / half) ** 4)


def _airways(canvas: Canvas) -> None:
    a, x, y = canvas.anatomy, canvas.x, canvas.y
    carina = [a.midline, -0.16]
    rows, cols = canvas.region(a.midline - 0.2, a.midline + 0.2, -1.2, 0.02)
    xs, ys = x[rows, cols], y[rows, cols]
    trachea = polyline(xs, ys, np.array([[a.midline, -1.1], carina]), 0.055, canvas.edge)
    bronchi = sum(polyline(xs, ys, np.array([carina, [a.side_x(side, 0.13), -0.03]]), 0.03,
                           canvas.edge) for side in SIDES)
    canvas.air[rows, cols] += 0.16 * trachea + 0.05 * bronchi
    if canvas.rng.random() < 0.75:   # gas in the stomach under the left dome
        centre_x = a.side_x("left", 0.3)
        top = float(canvas.dome_y("left", centre_x)) + 0.05
        rows, cols = canvas.region(centre_x - 0.1, centre_x + 0.1, top - 0.02, top + 0.1)
        xs, ys = x[rows, cols], y[rows, cols]
        bubble = ellipse(xs, ys, centre_x, top + 0.04, 0.08, 0.045, canvas.edge)
        canvas.air[rows, cols] += 0.35 * bubble * (ys < top + 0.04)
