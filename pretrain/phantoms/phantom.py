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
from typing import Iterable, Sequence

import numpy as np

from perturb.io.atomic import temp_prefix
from pretrain.phantoms.anatomy import sample_anatomy
from pretrain.phantoms.canvas import Canvas
from pretrain.phantoms.findings import Plan, plan_findings
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


def draw_phantom(tags: Iterable[str], seed: int, size: int = DEFAULT_SIZE, *,
                 streams: Sequence[str] | None = None, skip: int | None = None
                 ) -> tuple[Canvas, Plan]:
    """The canvas with the chest and the findings of `tags` drawn, not yet rendered to pixels.
    `streams` names each tag's random stream (default: the tag itself); `skip` leaves out the
    finding of the tag at that position while every other finding keeps its stream."""
    if size < 16:
        raise ValueError(f"phantom size must be at least 16 pixels, got {size}")
    # separate streams: a finding changes its own pixels, never the anatomy or the noise
    anatomy_seed, canvas_seed = np.random.SeedSequence(seed).spawn(2)
    anatomy = sample_anatomy(np.random.default_rng(anatomy_seed))
    plan = plan_findings(tags, seed, streams)
    findings = [f for f in plan.findings if f.index != skip]
    for finding in findings:
        finding.adjust(anatomy)
    canvas = Canvas(anatomy, size, np.random.default_rng(canvas_seed))
    draw_thorax(canvas)
    for finding in findings:
        finding.draw(canvas)
    return canvas, plan


def render_phantom(tags: Iterable[str], seed: int, size: int = DEFAULT_SIZE, *,
                   streams: Sequence[str] | None = None) -> Phantom:
    """Draw a chest with the findings of `tags`; same tags and seed give the same pixels."""
    canvas, plan = draw_phantom(tags, seed, size, streams=streams)
    return Phantom(image=canvas.render(), ignored=plan.ignored)


def finding_region(tags: Sequence[str], seed: int, index: int, size: int = DEFAULT_SIZE, *,
                   streams: Sequence[str] | None = None) -> np.ndarray:
    """Where the finding of `tags[index]` shows: a bool [size, size] mask of the pixels whose
    noise-free film differs between the phantom with and without that one finding. It covers
    whatever the finding moves: its own shadow, and for a finding that reshapes the chest (a
    bigger heart, lower domes) the anatomy and the findings drawn on it. Empty when the tag
    cannot be drawn."""
    if not 0 <= index < len(tags):
        raise IndexError(f"tag index {index} out of range for {len(tags)} tags")
    with_it, _ = draw_phantom(tags, seed, size, streams=streams)
    without, _ = draw_phantom(tags, seed, size, streams=streams, skip=index)
    return with_it.film() != without.film()


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
