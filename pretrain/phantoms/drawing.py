"""Vectorised numpy shape primitives on a normalised grid, with anti-aliased (soft) edges.

All shapes take coordinate grids `x, y` (float32, the image spans [-1, 1] on both axes) and an
`edge` width in the same units (about one pixel), so phantoms look the same at any image size.
"""

from __future__ import annotations

import numpy as np


def soft_step(signed: np.ndarray, edge: float) -> np.ndarray:
    """0 → 1 across `signed == 0` over a width of `edge` (positive side is inside)."""
    step = signed * (1.0 / edge) + 0.5      # min/max in place: np.clip is slow on small arrays
    np.maximum(step, 0.0, out=step)
    return np.minimum(step, 1.0, out=step)


def unit(values: np.ndarray) -> np.ndarray:
    """`values` clipped to [0, 1] (min/max: np.clip costs more on these small arrays)."""
    return np.minimum(np.maximum(values, 0.0), 1.0)


def ellipse(x: np.ndarray, y: np.ndarray, cx: float, cy: float, ax: float, ay: float,
            edge: float) -> np.ndarray:
    """Soft mask of an axis-aligned ellipse."""
    r = np.sqrt(((x - cx) / ax) ** 2 + ((y - cy) / ay) ** 2)
    return soft_step((1.0 - r) * min(ax, ay), edge)


def blob(x: np.ndarray, y: np.ndarray, cx: float, cy: float, sx: float, sy: float) -> np.ndarray:
    """Gaussian bump with peak 1 (for fuzzy densities that have no sharp border)."""
    return np.exp(-0.5 * (((x - cx) / sx) ** 2 + ((y - cy) / sy) ** 2))


def segment_distance(x: np.ndarray, y: np.ndarray, x0: float, y0: float, x1: float,
                     y1: float) -> np.ndarray:
    """Distance from every grid point to the segment (x0, y0)–(x1, y1)."""
    dx, dy = x1 - x0, y1 - y0
    length2 = dx * dx + dy * dy or 1e-12
    t = unit(((x - x0) * dx + (y - y0) * dy) / length2)
    return np.hypot(x - (x0 + t * dx), y - (y0 + t * dy))


def polyline(x: np.ndarray, y: np.ndarray, points: np.ndarray, width: float,
             edge: float) -> np.ndarray:
    """Soft mask of a polyline of the given full `width` through `points` ([N, 2])."""
    distance = np.full(x.shape, np.inf, dtype=np.float32)
    for (x0, y0), (x1, y1) in zip(points[:-1], points[1:]):
        np.minimum(distance, segment_distance(x, y, x0, y0, x1, y1), out=distance)
    return soft_step(width / 2 - distance, edge)


def _interp_matrix(size: int, cells: int, smooth: bool = True) -> np.ndarray:
    """[size, cells] weights that upsample a coarse grid (cosine interpolation when `smooth`,
    else linear)."""
    pos = np.linspace(0, cells - 1, size)
    low = np.minimum(np.floor(pos).astype(int), cells - 2)
    frac = pos - low
    if smooth:
        frac = (1 - np.cos(np.pi * frac)) / 2
    matrix = np.zeros((size, cells), dtype=np.float32)
    matrix[np.arange(size), low] = 1 - frac
    matrix[np.arange(size), low + 1] = frac
    return matrix


def smooth_noise(rng: np.random.Generator, shape: int | tuple[int, int],
                 cells: int | tuple[int, int]) -> np.ndarray:
    """A smooth random field (zero mean, unit-ish variance) of `shape` with about `cells` bumps
    along each side (ints mean square).

    Upsampling a small random grid with two matrix products costs far less than filtering.
    """
    rows, cols = (shape, shape) if isinstance(shape, int) else shape
    cells_y, cells_x = (cells, cells) if isinstance(cells, int) else cells
    cells_y, cells_x = max(cells_y, 2), max(cells_x, 2)
    coarse = rng.standard_normal((cells_y, cells_x)).astype(np.float32)
    return _interp_matrix(rows, cells_y) @ coarse @ _interp_matrix(cols, cells_x).T


def upsample(image: np.ndarray, size: int) -> np.ndarray:
    """Linearly resize a square float image to `size` (fine patterns are drawn at low res)."""
    matrix = _interp_matrix(size, image.shape[0], smooth=False)
    return matrix @ image @ matrix.T
