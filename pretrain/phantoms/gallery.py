"""A contact sheet with one phantom per drawable finding and its tag written under it, so a
person can judge by eye whether each finding looks plausible."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pretrain.phantoms.findings import DRAWABLE_FINDINGS
from pretrain.phantoms.phantom import render_phantom, save_png


def gallery_tags() -> list[str]:
    """The example tag of every drawable finding, normal first."""
    return ["normal"] + sorted(f.example for f in DRAWABLE_FINDINGS.values() if f.name != "normal")


def render_gallery(path: str | Path, tile: int = 256, columns: int = 6, seed: int = 7) -> int:
    """Write the gallery PNG atomically; returns the number of tiles. All tiles share the seed,
    so they differ only by their finding."""
    from PIL import Image, ImageDraw, ImageFont

    tags = gallery_tags()
    label_height = max(12, tile // 14)
    rows = -(-len(tags) // columns)
    sheet = Image.new("L", (columns * tile, rows * (tile + label_height)), 0)
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(size=max(8, label_height - 5))
    for index, tag in enumerate(tags):
        left = (index % columns) * tile
        top = (index // columns) * (tile + label_height)
        sheet.paste(Image.fromarray(render_phantom([tag], seed, tile).image), (left, top))
        draw.text((left + 3, top + tile + 1), tag, fill=255, font=font)
    save_png(np.asarray(sheet), path)
    return len(tags)
