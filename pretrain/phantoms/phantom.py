"""Render a synthetic chest radiograph whose content matches a report's MeSH tags.

Open-I images cannot be fetched here, but Open-I MeSH tags say what each image shows, with side,
zone and severity. Drawing a phantom from the tags gives real reports paired with images in which
word order truly matters (which side, which finding is negated), so perturbed-report
discrimination can be tested fully offline. Needs numpy only (Pillow to save).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np

from perturb.atomic import temp_prefix
from pretrain.phantoms.anatomy import sample_anatomy
from pretrain.phantoms.canvas import Canvas
from pretrain.phantoms.findings import plan_findings
from pretrain.phantoms.thorax import draw_thorax

DEFAULT_SIZE = 224
_UMASK = os.umask(0)
os.umask(_UMASK)            # read once: mkstemp makes 0600 files, the PNGs should be shareable


@dataclass(frozen=True)
class Phantom:
    """A rendered image (uint8 [size, size]) and the tags that could not be drawn."""

    image: np.ndarray
    ignored: tuple[str, ...]


def seed_for(report_id: str, seed: int = 0) -> int:
    """A 64-bit seed from a report id, the same in every process and Python version."""
    digest = hashlib.blake2b(f"{seed}:{report_id}".encode("utf-8", "surrogatepass"),
                             digest_size=8).digest()
    return int.from_bytes(digest, "little")


def render_phantom(tags: Iterable[str], seed: int, size: int = DEFAULT_SIZE) -> Phantom:
    """Draw a chest with the findings of `tags`; same tags and seed give the same pixels."""
    if size < 16:
        raise ValueError(f"phantom size must be at least 16 pixels, got {size}")
    # separate streams: a finding changes its own pixels, never the anatomy or the noise
    anatomy_seed, canvas_seed = np.random.SeedSequence(seed).spawn(2)
    anatomy = sample_anatomy(np.random.default_rng(anatomy_seed))
    plan = plan_findings(tags, seed)
    for finding in plan.findings:
        finding.adjust(anatomy)
    canvas = Canvas(anatomy, size, np.random.default_rng(canvas_seed))
    draw_thorax(canvas)
    for finding in plan.findings:
        finding.draw(canvas)
    return Phantom(image=canvas.render(), ignored=plan.ignored)


def save_png(image: np.ndarray, path: str | Path) -> None:
    """Write `image` as PNG atomically: a half-written file never appears under `path`."""
    from PIL import Image

    path = Path(path)
    handle, temp = tempfile.mkstemp(prefix=temp_prefix(path), suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            Image.fromarray(image).save(stream, format="PNG")
        os.chmod(temp, 0o666 & ~_UMASK)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
