"""Chest X-ray transforms with plain torch ops (no torchvision, which breaks beside this torch).

Evaluation: resize the shorter side (antialiased), centre-crop a square, standardise — the same
pixels every time. Training adds, in one `grid_sample`, a random crop-zoom, a small rotation and
shift (patients are never perfectly centred), then brightness/contrast/gamma jitter (exposure
differs between machines). No flips: left and right must stay where the report says they are.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

#: Standardisation applied after the [0, 1] image is transformed: (x - MEAN) / STD.
IMAGE_MEAN = 0.5
IMAGE_STD = 0.25


def resize_and_crop(image: torch.Tensor, size: int) -> torch.Tensor:
    """[1, H, W] → [1, size, size]: shorter side to `size`, then the centre square."""
    height, width = image.shape[-2:]
    scale = size / min(height, width)
    new_h, new_w = max(size, round(height * scale)), max(size, round(width * scale))
    if (new_h, new_w) != (height, width):
        image = F.interpolate(image[None], size=(new_h, new_w), mode="bilinear",
                              align_corners=False, antialias=True)[0]
    top, left = (new_h - size) // 2, (new_w - size) // 2
    return image[:, top:top + size, left:left + size]


def random_affine(image: torch.Tensor, generator: torch.Generator | None = None,
                  max_degrees: float = 7.0, zoom: tuple[float, float] = (0.85, 1.0),
                  max_shift: float = 0.04) -> torch.Tensor:
    """A random crop-zoom, rotation and shift of a square [C, S, S] image (borders replicate)."""
    def draw(low: float, high: float) -> float:
        return low + (high - low) * torch.rand((), generator=generator).item()

    angle = math.radians(draw(-max_degrees, max_degrees))
    scale = draw(*zoom)
    aspect = draw(0.95, 1.05)
    room = 1 - scale + max_shift
    tx, ty = draw(-room, room), draw(-room, room)
    sx, sy = scale * aspect, scale / aspect
    theta = torch.tensor([[sx * math.cos(angle), -sy * math.sin(angle), tx],
                          [sx * math.sin(angle), sy * math.cos(angle), ty]],
                         dtype=image.dtype)[None]
    grid = F.affine_grid(theta, [1, *image.shape], align_corners=False)
    return F.grid_sample(image[None], grid, mode="bilinear", padding_mode="border",
                         align_corners=False)[0]


def jitter_intensity(image: torch.Tensor, generator: torch.Generator | None = None,
                     brightness: float = 0.08, contrast: float = 0.1,
                     gamma: float = 0.1) -> torch.Tensor:
    """Random exposure changes of a [0, 1] image, staying in [0, 1]."""
    u = torch.rand(3, generator=generator) * 2 - 1
    mean = image.mean()
    image = (image - mean) * (1 + contrast * u[0]) + mean + brightness * u[1]
    return image.clamp(0, 1) ** (1 + gamma * u[2])


@dataclass(frozen=True)
class XrayTransform:
    """Grayscale float image [H, W] in [0, 1] → standardised tensor [channels, size, size]."""

    size: int = 224
    train: bool = False
    channels: int = 3

    def __call__(self, pixels: np.ndarray, generator: torch.Generator | None = None
                 ) -> torch.Tensor:
        image = torch.from_numpy(np.ascontiguousarray(pixels, dtype=np.float32))[None]
        image = resize_and_crop(image, self.size)
        if self.train:
            image = jitter_intensity(random_affine(image, generator), generator)
        image = (image.clamp(0, 1) - IMAGE_MEAN) / IMAGE_STD
        return image.expand(self.channels, -1, -1).contiguous()
