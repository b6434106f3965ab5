"""Contact sheets to judge the phantoms by eye: one phantom per drawable finding with its tag
under it, and one counterfactual pair per edit family with the region where the two differ."""

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


#: (family, tags) of the counterfactual gallery: the first edit of the family is shown
COUNTERFACTUAL_EXAMPLES = (
    ("laterality", ["Pleural Effusion/right/moderate", "Cardiomegaly/mild"]),
    ("presence", ["Pneumothorax/left/large", "Catheters, Indwelling/right"]),
    ("severity", ["Cardiomegaly/mild", "Nodule/lung/upper lobe/left"]),
    ("location", ["Opacity/lung/upper lobe/right"]),
    ("device", ["Implanted Medical Device/left", "Pleural Effusion/left/small"]),
)


def render_counterfactual_gallery(path: str | Path, tile: int = 224, seed: int = 7) -> int:
    """One row per edit family: the phantom (A), its counterfactual (B), and their difference
    (×2) with the edited finding's region outlined, under a line saying what was edited.
    Returns the number of rows."""
    from PIL import Image, ImageDraw, ImageFont

    from pretrain.phantoms.counterfactual import edit_region, render_edit, tag_edits

    line = max(12, tile // 16)
    sheet = Image.new("L", (3 * tile, len(COUNTERFACTUAL_EXAMPLES) * (tile + line)), 0)
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(size=max(8, line - 4))
    for row, (family, tags) in enumerate(COUNTERFACTUAL_EXAMPLES):
        edit = next(e for e in tag_edits(tags, key="gallery") if e.family == family)
        original = render_phantom(tags, seed, tile).image
        counterfactual = render_edit(tags, edit, seed, tile)
        region = edit_region(tags, edit, seed, tile)
        inside = region.copy()                     # the region minus its border
        inside[1:-1, 1:-1] &= (region[:-2, 1:-1] & region[2:, 1:-1] & region[1:-1, :-2]
                               & region[1:-1, 2:])
        difference = np.minimum(2 * np.abs(original.astype(int) - counterfactual), 255)
        difference[region & ~inside] = 255
        top = row * (tile + line)
        others = [t for t in tags if t != edit.tag_before]
        caption = f"{family}: {edit.tag_before} -> {edit.tag_after}" + (
            f"   (also: {', '.join(others)})" if others else "")
        draw.text((3, top + 1), caption, fill=255, font=font)
        for column, image in enumerate((original, counterfactual, difference)):
            sheet.paste(Image.fromarray(image.astype(np.uint8)), (column * tile, top + line))
    save_png(np.asarray(sheet), path)
    return len(COUNTERFACTUAL_EXAMPLES)
