"""Radiopaque devices: central lines, tubes, pacemakers, valve rings, sternotomy wires, clips.
Each is drawn only on the pixels around it (`Canvas.stroke` / `Canvas.local`)."""

from __future__ import annotations

import numpy as np

from pretrain.data.tags import Tag
from pretrain.phantoms.canvas import Canvas
from pretrain.phantoms.drawing import ellipse, soft_step, unit
from pretrain.phantoms.findings.registry import named_sides, register

METAL = 0.6


def _metal_line(canvas: Canvas, points: list, width: float, amount: float) -> None:
    region, mask = canvas.stroke(points, width)
    canvas.density[region] += amount * mask


def draw_catheter(tag: Tag, canvas: Canvas, rng: np.random.Generator) -> None:
    """A thin line entering on the tagged side (jugular or subclavian) and ending in the SVC,
    right of the midline."""
    a = canvas.anatomy
    for side in named_sides(tag) or ("right",):
        if rng.random() < 0.5:      # internal jugular: straight down the neck
            path = [[a.side_x(side, 0.13), -1.05], [a.side_x(side, 0.13), a.clavicle_y],
                    [a.side_x(side, 0.1), a.knob_y]]
        else:                       # subclavian: under the clavicle, then medially
            path = [[a.side_x(side, 0.75), a.clavicle_y - 0.02],
                    [a.side_x(side, 0.4), a.clavicle_y + 0.05],
                    [a.side_x(side, 0.13), a.clavicle_y + 0.12]]
        path.append([a.side_x("right", 0.07), a.knob_y + rng.uniform(0.22, 0.36)])
        _metal_line(canvas, path, 0.012, METAL * 0.6)


def draw_tube(tag: Tag, canvas: Canvas, rng: np.random.Generator) -> None:
    """An endotracheal tube (trachea or no place named), a nasogastric tube (abdomen), or a
    chest tube on the named side."""
    a = canvas.anatomy
    named = named_sides(tag)
    if tag.has("abdomen"):
        stomach = a.side_x("left", 0.3)
        path = [[a.midline, -1.05], [a.midline + 0.01, 0.0],
                [a.side_x("left", 0.2), float(canvas.dome_y("left", stomach)) + 0.1],
                [stomach, float(canvas.dome_y("left", stomach)) + 0.12]]
        tubes = [(path, 0.016)]
    elif named and not tag.has("trachea") and not tag.has("trachea, carina"):
        tubes = []
        for side in named:
            entry_y = float(canvas.dome_y(side, a.side_x(side, 0.7))) - 0.15
            tubes.append(([[a.side_x(side, 0.95), entry_y + 0.05], [a.side_x(side, 0.68), entry_y],
                           [a.side_x(side, 0.55), a.lung_top + 0.2],
                           [a.side_x(side, 0.42), a.lung_top + 0.08]], 0.03))
    else:
        tip = -0.16 - rng.uniform(0.08, 0.16)        # a few cm above the carina
        tubes = [([[a.midline, -1.05], [a.midline, tip]], 0.04)]
    for path, width in tubes:
        _metal_line(canvas, path, width, 0.08)                    # the plastic wall
        _metal_line(canvas, path, width * 0.25, METAL * 0.5)      # its radiopaque stripe


def draw_implanted_device(tag: Tag, canvas: Canvas, rng: np.random.Generator) -> None:
    """A pacemaker (generator under the clavicle, leads into the right heart), or a prosthetic
    valve ring when the tag names a valve or the heart."""
    a = canvas.anatomy
    if tag.has("aortic valve") or tag.has("heart") or tag.has("mitral valve"):
        cx, cy = a.midline + 0.04, a.heart_centre_y - 0.08
        region, x, y = canvas.local(cx - 0.06, cx + 0.06, cy - 0.05, cy + 0.05)
        ring = ellipse(x, y, cx, cy, 0.045, 0.03, canvas.edge) - ellipse(
            x, y, cx, cy, 0.032, 0.019, canvas.edge)
        canvas.density[region] += METAL * unit(ring)
        return
    for side in named_sides(tag) or ("left",):
        gx, gy = a.side_x(side, rng.uniform(0.45, 0.58)), a.clavicle_y + rng.uniform(0.14, 0.22)
        region, x, y = canvas.local(gx - 0.1, gx + 0.1, gy - 0.08, gy + 0.08)
        box = soft_step(0.075 - np.abs(x - gx), canvas.edge) * soft_step(0.05 - np.abs(y - gy),
                                                                          canvas.edge)
        canvas.density[region] += box * ellipse(x, y, gx, gy, 0.085, 0.062, canvas.edge)
        svc = [a.side_x("right", 0.06), a.knob_y + 0.15]
        atrium = [a.midline - a.heart_right * 0.6, a.heart_centre_y - 0.05]
        ventricle = [a.midline + a.heart_left * 0.6, a.heart_centre_y + 0.12]
        _metal_line(canvas, [[gx, gy], [a.side_x(side, 0.2), a.clavicle_y + 0.1], svc, atrium],
                    0.01, METAL * 0.7)
        _metal_line(canvas, [[gx, gy], [a.side_x(side, 0.2), a.clavicle_y + 0.12], svc,
                             [a.midline + 0.05, a.heart_centre_y], ventricle], 0.01, METAL * 0.7)


def draw_surgical_material(tag: Tag, canvas: Canvas, rng: np.random.Generator) -> None:
    """Sternotomy wires down the midline (mediastinum, thorax or no place named), else clips
    where the tag says (abdomen: under the diaphragm; a side: the axilla)."""
    a = canvas.anatomy
    named = named_sides(tag)
    if not tag.has("abdomen") and not named:
        for wy in np.linspace(-0.55, a.heart_centre_y + 0.05, int(rng.integers(5, 8))):
            wx = a.midline + rng.normal(0, 0.008)
            region, x, y = canvas.local(wx - 0.04, wx + 0.06, wy - 0.03, wy + 0.03)
            loop = ellipse(x, y, wx, wy, 0.032, 0.016, canvas.edge) - ellipse(
                x, y, wx, wy, 0.021, 0.007, canvas.edge)
            canvas.density[region] += METAL * unit(loop)
            _metal_line(canvas, [[wx + 0.03, wy], [wx + 0.055, wy + 0.012]], 0.01, METAL)
        return
    for side in named or ("right",):
        if tag.has("abdomen"):
            cx = a.side_x(side, 0.3)
            cy = float(canvas.dome_y(side, cx)) + 0.12
        else:
            cx, cy = a.side_x(side, 0.78), a.lung_top + 0.3
        for _ in range(int(rng.integers(3, 6))):
            px, py = cx + rng.normal(0, 0.04), cy + rng.normal(0, 0.04)
            angle = rng.uniform(0, np.pi)
            dx, dy = 0.018 * np.cos(angle), 0.018 * np.sin(angle)
            _metal_line(canvas, [[px - dx, py - dy], [px + dx, py + dy]], 0.009, METAL)


register("catheter", "Catheters, Indwelling/right", draw=draw_catheter)
register("tube", "Tube, Inserted/trachea", draw=draw_tube)
register("implanted device", "Implanted Medical Device/left", draw=draw_implanted_device)
register("surgical material", "Surgical Instruments/mediastinum", draw=draw_surgical_material)
