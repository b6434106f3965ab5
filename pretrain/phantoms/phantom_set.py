"""Render phantoms for a file of reports into a folder of PNGs plus a manifest.

Built for long runs: work is spread over processes, PNGs already there and whole are kept
(an interrupted run resumes), every PNG is written atomically, and a report that fails is counted
with its error instead of stopping the run. The manifest lists only images that exist.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from perturb.atomic import remove_stale
from pretrain.data.images import is_complete_png
from pretrain.data.manifest import ManifestRow, write_manifest
from pretrain.data.openi import OpenIReport
from pretrain.data.splits import TEST_FRACTION, VALID_FRACTION, assign_split
from pretrain.phantoms.findings import drawable
from pretrain.phantoms.phantom import DEFAULT_SIZE, render_phantom, save_png, seed_for

IMAGE_FOLDER = "images"


@dataclass
class PhantomSetSummary:
    written: int = 0
    kept: int = 0                                   # valid PNGs from an earlier run
    failed: list[tuple[str, str]] = field(default_factory=list)    # (report id, error)
    ignored_tags: Counter = field(default_factory=Counter)          # tag → reports
    splits: Counter = field(default_factory=Counter)

    @property
    def rows(self) -> int:
        return self.written + self.kept


def image_name(report_id: str) -> str:
    """A file name for the report's PNG: the id when it is a safe name, else a cleaned id plus a
    short hash (so two ids never share a file)."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", report_id).strip(".") or "report"
    if safe != report_id:
        safe += "-" + hashlib.blake2b(report_id.encode("utf-8", "surrogatepass"),
                                      digest_size=4).hexdigest()
    return safe + ".png"


def _render_one(job: tuple[str, tuple[str, ...], str, int, int]) -> tuple[str, str, str]:
    """(id, status, error) for one report; status is written, kept or failed. Runs in workers."""
    report_id, tags, path, size, seed = job
    try:
        if is_complete_png(path, size):
            return report_id, "kept", ""
        save_png(render_phantom(tags, seed_for(report_id, seed), size).image, path)
        return report_id, "written", ""
    except Exception as err:  # one bad report must not end a run of thousands
        return report_id, "failed", f"{type(err).__name__}: {err}".splitlines()[0]


def build_phantom_set(
    reports: list[OpenIReport], out_dir: str | os.PathLike[str], manifest: str | os.PathLike[str],
    *, size: int = DEFAULT_SIZE, seed: int = 0, workers: int = 1,
    test_fraction: float = TEST_FRACTION, valid_fraction: float = VALID_FRACTION,
    on_done: Callable[[int], None] | None = None,
) -> PhantomSetSummary:
    """Render every report's phantom into `out_dir/images/` and write `manifest` (atomically)
    with the rows whose image exists. `on_done(n)` is called as reports finish."""
    out_dir, manifest = Path(out_dir), Path(manifest)
    images = out_dir / IMAGE_FOLDER
    images.mkdir(parents=True, exist_ok=True)
    remove_stale(images)  # temporary PNGs of a killed run
    paths = {r.id: images / image_name(r.id) for r in reports}
    jobs = [(r.id, r.mesh, str(paths[r.id]), size, seed) for r in reports]
    summary = PhantomSetSummary()
    status: dict[str, str] = {}
    if workers > 1 and len(jobs) > 1:
        context = multiprocessing.get_context("spawn")   # no fork under progress-bar threads
        with context.Pool(workers) as pool:
            for report_id, state, error in pool.imap_unordered(_render_one, jobs, chunksize=8):
                status[report_id] = state
                if error:
                    summary.failed.append((report_id, error))
                if on_done:
                    on_done(1)
    else:
        for job in jobs:
            report_id, state, error = _render_one(job)
            status[report_id] = state
            if error:
                summary.failed.append((report_id, error))
            if on_done:
                on_done(1)
    rows = []
    for report in reports:
        state = status[report.id]
        if state == "failed":
            continue
        summary.written += state == "written"
        summary.kept += state == "kept"
        summary.ignored_tags.update(tag for tag in set(report.mesh) if not drawable(tag))
        split = assign_split(report.id, test_fraction, valid_fraction)
        summary.splits[split] += 1
        relative = os.path.relpath(paths[report.id].resolve(), manifest.parent.resolve())
        rows.append(ManifestRow(report.id, Path(relative).as_posix(), report.findings,
                                report.impression, report.mesh, split))
    write_manifest(manifest, rows)
    return summary
