"""The layers a phantom chest is drawn into, the geometry findings share, and the final pixels.

Density is additive like X-ray attenuation: soft tissue, bones and devices add, aerated lung takes
away. Findings act on layers, not pixels: consolidation and effusion lower `aeration` (air replaced
by fluid), a pneumothorax adds air and hides vessels, so findings interact as on a real film (an
effusion hides the diaphragm and the vessels behind it).
"""

from __future__ import annotations

import math

import numpy as np

from pretrain.phantoms.anatomy import SIGN, Anatomy
from pretrain.phantoms.drawing import polyline, smooth_noise, unit

SIDES = ("right", "left")
DOME_HALF_WIDTH = 0.36   # a diaphragm dome reaches its costophrenic angle this far from its apex

Region = tuple[slice, slice]


class Canvas:
    """The layers of one phantom being drawn, on a `size`×`size` grid in normalised coordinates
    (`x`, `y` in [-1, 1] before the chest's rotation, zoom and shift)."""

    def __init__(self, anatomy: Anatomy, size: int, rng: np.random.Generator) -> None:
        self.anatomy, self.size, self.rng = anatomy, size, rng
        self.edge = 2.4 / size          # anti-aliasing width: a little over one pixel
        coords = (np.arange(size, dtype=np.float32) + 0.5) / size * 2 - 1
        xi, yi = np.meshgrid(coords - anatomy.shift[0], coords - anatomy.shift[1])
        cos, sin = math.cos(anatomy.rotation), math.sin(anatomy.rotation)
        self._cos, self._sin = cos, sin
        self.x = ((cos * xi + sin * yi) / anatomy.scale).astype(np.float32)
        self.y = ((-sin * xi + cos * yi) / anatomy.scale).astype(np.float32)
        shape = (size, size)
        self.body = np.zeros(shape, np.float32)          # soft tissue
        self.bones = np.zeros(shape, np.float32)
        self.density = np.zeros(shape, np.float32)       # added by findings and devices
        self.air = np.zeros(shape, np.float32)           # air outside the lungs (airways, gas)
        self.aeration = np.ones(shape, np.float32)       # 1 = lung full of air, 0 = fluid
        self.markings = np.zeros(shape, np.float32)      # lung vessels
        self.markings_visible = np.ones(shape, np.float32)
        self.vessel_gain = 1.0
        self.lung: dict[str, np.ndarray] = {}            # soft mask of each lung
        self.depth: dict[str, np.ndarray] = {}           # thickness of aerated lung
        self.outline: dict[str, np.ndarray] = {}         # 0 at a lung's centre, 1 on its outline
        self.heart = np.zeros(shape, np.float32)

    # geometry shared with the findings -------------------------------------------------------
    def region(self, x0: float, x1: float, y0: float, y1: float) -> Region:
        """The pixel rows and columns that cover the box [x0, x1]×[y0, y1] (with a margin), so
        small shapes are computed on a few pixels instead of the whole image."""
        a = self.anatomy
        cos, sin, scale = self._cos, self._sin, a.scale
        corners = ((x0, y0), (x1, y0), (x0, y1), (x1, y1))
        xi = [scale * (cos * x - sin * y) + a.shift[0] for x, y in corners]
        yi = [scale * (sin * x + cos * y) + a.shift[1] for x, y in corners]
        half = self.size / 2

        def span(low: float, high: float) -> slice:
            start = math.floor((low + 1) * half - 0.5) - 2
            stop = math.ceil((high + 1) * half - 0.5) + 3
            return slice(min(max(start, 0), self.size), min(max(stop, 0), self.size))

        return span(min(yi), max(yi)), span(min(xi), max(xi))

    def cos_sin(self) -> tuple[float, float]:
        """Cosine and sine of the chest's rotation in the frame."""
        return self._cos, self._sin

    def to_pixels(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(row, column) pixel coordinates (float) of chest points."""
        a = self.anatomy
        xi = a.scale * (self._cos * x - self._sin * y) + a.shift[0]
        yi = a.scale * (self._sin * x + self._cos * y) + a.shift[1]
        half = self.size / 2
        return (yi + 1) * half - 0.5, (xi + 1) * half - 0.5

    def local(self, x0: float, x1: float, y0: float, y1: float
              ) -> tuple[Region, np.ndarray, np.ndarray]:
        """The region covering a box, and the chest coordinates of its pixels."""
        region = self.region(x0, x1, y0, y1)
        return region, self.x[region], self.y[region]

    def stroke(self, points: np.ndarray | list, width: float) -> tuple[Region, np.ndarray]:
        """A soft polyline mask of full `width`, computed only around the line: returns the
        region and the mask on it (add it to a layer as `layer[region] += k * mask`)."""
        points = np.asarray(points, dtype=np.float64)
        margin = width + 2 * self.edge
        region = self.region(points[:, 0].min() - margin, points[:, 0].max() + margin,
                             points[:, 1].min() - margin, points[:, 1].max() + margin)
        return region, polyline(self.x[region], self.y[region], points, width, self.edge)

    def dome_y(self, side: str, x: np.ndarray | float) -> np.ndarray | float:
        """y of the `side` hemidiaphragm at x (lowest at the costophrenic angle)."""
        a = self.anatomy
        apex_x = a.side_x(side, a.lung_offset - 0.04)
        return a.dome_top[side] + a.dome_height[side] * ((x - apex_x) / DOME_HALF_WIDTH) ** 2

    def lung_point(self, side: str, lateral: float, down: float) -> tuple[float, float]:
        """A point in the `side` lung: `lateral` 0 (medial) → 1 (chest wall), `down` 0 (apex) →
        1 (diaphragm)."""
        a = self.anatomy
        x = a.side_x(side, a.lung_offset + (2 * lateral - 1) * a.lung_half_width * 0.9)
        top = a.lung_top + 0.04
        return x, top + down * (float(self.dome_y(side, x)) - top)

    def lung_height(self, side: str) -> float:
        return self.anatomy.dome_top[side] - self.anatomy.lung_top

    def spine_x(self, y: np.ndarray) -> np.ndarray:
        """x of the spine's axis at y (curved by scoliosis)."""
        a = self.anatomy
        return a.midline + a.spine_curve * np.sin(np.pi * unit((y + 0.95) / 1.7))

    def on_side(self, side: str) -> np.ndarray:
        """True on the patient's `side` of the midline (findings stay in their hemithorax)."""
        return SIGN[side] * (self.x - self.anatomy.midline) > 0

    def opacify(self, amount: np.ndarray, region: Region | None = None) -> None:
        """Replace lung air by fluid: `amount` 0 (no change) … 1 (airless) at each pixel."""
        where = region or (slice(None), slice(None))
        self.aeration[where] *= 1 - unit(amount)

    def lungs(self) -> np.ndarray:
        return self.lung["right"] + self.lung["left"]

    # output ----------------------------------------------------------------------------------
    def render(self) -> np.ndarray:
        """Combine the layers into a uint8 image with exposure, contrast and quantum noise."""
        a = self.anatomy
        lungs = self.lungs()
        air_column = self.lung["right"] * self.depth["right"]
        air_column += self.lung["left"] * self.depth["left"]
        air_column *= a.lung_air * (1 + 0.06 * smooth_noise(self.rng, self.size, 28))
        vessels = (0.12 * self.vessel_gain) * self.markings * self.markings_visible * lungs
        density = self.body + self.bones + self.density - self.air
        density += self.aeration * (vessels - air_column)
        image = np.maximum(density * (a.exposure / 1.15), 0)
        knee = 0.7             # film-like shoulder: dense regions compress instead of clipping
        over = np.maximum(image - knee, 0)
        image = np.minimum(image, knee) + (1 - knee) * (1 - np.exp(over * (-1 / (1 - knee))))
        image **= a.gamma
        image += a.noise * np.sqrt(image + 0.02) * self.rng.standard_normal(
            image.shape, dtype=np.float32)
        return (unit(image) * 255 + 0.5).astype(np.uint8)
