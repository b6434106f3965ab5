"""Lung markings: tortuous vessels branching out of each hilum, tapering towards the periphery.

Each vessel is a random walk of short segments. All segments are drawn in one batch at half
resolution (vessels are blurry anyway): every segment gets a small window of pixels around it,
distances are computed for all windows at once and merged with `np.maximum.at`, so a hundred
segments cost about as much as one full-image operation.
"""

from __future__ import annotations

import math

import numpy as np

from pretrain.phantoms.anatomy import SIGN
from pretrain.phantoms.canvas import SIDES, Canvas
from pretrain.phantoms.drawing import unit, upsample

HILUM_OFFSET = 0.17
STEP = 0.1
START_WIDTH = 0.013


def draw_vessels(canvas: Canvas) -> None:
    """Draw the vessel trees of both lungs into `canvas.markings` (values 0–1)."""
    starts, ends, widths = _vessel_segments(canvas)
    half = _draw_segments(canvas, np.array(starts, np.float32), np.array(ends, np.float32),
                          np.array(widths, np.float32))
    canvas.markings += upsample(half, canvas.size)


def _vessel_segments(canvas: Canvas) -> tuple[list, list, list]:
    """Segments of every vessel tree: ([x, y] starts, [x, y] ends, widths)."""
    a, rng = canvas.anatomy, canvas.rng
    starts: list[tuple[float, float]] = []
    ends: list[tuple[float, float]] = []
    widths: list[float] = []
    for side in SIDES:
        s = SIGN[side]
        hilum = (a.side_x(side, HILUM_OFFSET + rng.uniform(-0.02, 0.02)),
                 -0.02 + rng.uniform(-0.03, 0.03))
        angles, branches = a.vessel_angles[side], a.vessel_branch[side]
        wiggle = iter(rng.normal(0.0, 0.16, 64 * len(angles)).tolist())
        turns = iter((rng.choice([-1.0, 1.0], 16 * len(angles))
                      * rng.uniform(0.35, 0.6, 16 * len(angles))).tolist())
        lengths = rng.integers(4, 7, len(angles)).tolist()
        for angle, branch_at, steps in zip(angles.tolist(), branches.tolist(), lengths):
            stack = [(hilum, angle, START_WIDTH, steps, max(1, round(branch_at / STEP)))]
            while stack:
                (x, y), heading, width, steps, branch_step = stack.pop()
                for step in range(steps):
                    heading += next(wiggle)
                    end = (x + STEP * s * math.cos(heading), y + STEP * math.sin(heading))
                    starts.append((x, y))
                    ends.append(end)
                    widths.append(width)
                    if step == branch_step and width > 0.005:
                        stack.append((end, heading + next(turns), width * 0.7,
                                      steps - step - 1, 1))
                    (x, y), width = end, width * 0.8
    return starts, ends, widths


def _draw_segments(canvas: Canvas, starts: np.ndarray, ends: np.ndarray,
                   widths: np.ndarray) -> np.ndarray:
    """The segments drawn on a half-resolution grid (every second pixel of the canvas)."""
    a, size = canvas.anatomy, (canvas.size + 1) // 2
    margin = 2.5 * widths[:, None] + canvas.edge
    low = np.minimum(starts, ends) - margin
    high = np.maximum(starts, ends) + margin
    corners_x = np.stack([low[:, 0], high[:, 0], low[:, 0], high[:, 0]], axis=1)
    corners_y = np.stack([low[:, 1], low[:, 1], high[:, 1], high[:, 1]], axis=1)
    rows, cols = canvas.to_pixels(corners_x, corners_y)
    rows, cols = rows / 2, cols / 2
    row0 = np.floor(rows.min(axis=1)).astype(int) - 1
    col0 = np.floor(cols.min(axis=1)).astype(int) - 1
    window = int(np.ceil(max((rows.max(axis=1) - row0).max(),
                             (cols.max(axis=1) - col0).max()))) + 2
    offsets = np.arange(window)
    rr = row0[:, None, None] + offsets[None, :, None]            # [N, W, 1]
    cc = col0[:, None, None] + offsets[None, None, :]            # [N, 1, W]
    # chest coordinates of half-res pixel (r, c), i.e. canvas pixel (2r, 2c): the inverse of
    # the canvas's affine framing, computed instead of gathered
    step = 2.0 / canvas.size
    xi = (2 * cc + 0.5) * step - 1 - a.shift[0]
    yi = (2 * rr + 0.5) * step - 1 - a.shift[1]
    cos, sin = canvas.cos_sin()
    x = ((cos * xi + sin * yi) / a.scale).astype(np.float32)
    y = ((-sin * xi + cos * yi) / a.scale).astype(np.float32)
    x0, y0 = starts[:, 0, None, None], starts[:, 1, None, None]
    dx = (ends[:, 0] - starts[:, 0])[:, None, None]
    dy = (ends[:, 1] - starts[:, 1])[:, None, None]
    t = unit(((x - x0) * dx + (y - y0) * dy) / (dx * dx + dy * dy + 1e-12))
    ex, ey = x - (x0 + t * dx), y - (y0 + t * dy)
    w = np.maximum(widths, canvas.edge)[:, None, None]
    vessel = np.exp(-(ex * ex + ey * ey) / (w * w)) * (0.5 + 0.5 * widths / START_WIDTH)[
        :, None, None]
    inside = (rr >= 0) & (rr < size) & (cc >= 0) & (cc < size)
    flat = np.clip(rr, 0, size - 1) * size + np.clip(cc, 0, size - 1)
    markings = np.zeros(size * size, np.float32)
    np.maximum.at(markings, np.broadcast_to(flat, vessel.shape).ravel(), (vessel * inside).ravel())
    return markings.reshape(size, size)
