"""`radperturb data openi | phantoms | manifest`: get reports, render paired phantom images, and
turn public dataset layouts into manifests."""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.table import Table

from cli.app import data_app
from cli.console import print_problems, print_table, stderr_console
from cli.errors import UsageError, reported_errors
from cli.paths import check_outputs
from cli.progress import stage_progress

QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar and no summary.")]


@data_app.command("openi")
def openi_command(
    output: Annotated[Path, typer.Option("--output", "-o", metavar="FILE",
                                         help="JSONL to write: id, findings, impression, mesh.")],
    source: Annotated[str | None, typer.Option(
        "--source", metavar="PATH",
        help="The torchxrayvision wheel, NLMCXR_reports.tgz or its extracted folder; "
        "default: fetch the wheel with pip into the cache.")] = None,
    quiet: QuietOption = False,
) -> None:
    """Write the 3,955 Open-I chest X-ray reports as JSONL (never commit them).

    [bold]Examples[/bold]

      radperturb data openi -o openi.jsonl

      radperturb data openi -o openi.jsonl --source torchxrayvision-1.5.7-py3-none-any.whl
    """
    from perturb.atomic import atomic_open
    from pretrain.data.openi import load_openi

    with reported_errors("data openi"):
        check_outputs({"--output": output}, [source])
        reports = load_openi(source)
        with atomic_open(output, "w") as stream:
            for report in reports:
                stream.write(json.dumps(report.to_dict(), ensure_ascii=False) + "\n")
        if not quiet:
            counts = Counter()
            for report in reports:
                counts["with findings"] += bool(report.findings)
                counts["with impression"] += bool(report.impression)
                counts["without any text"] += not report.text
                counts["tagged normal"] += report.mesh == ("normal",)
            summary = ", ".join(f"{n:,} {what}" for what, n in counts.items())
            stderr_console().print(f"wrote {len(reports):,} reports to {output} ({summary})")


@data_app.command("phantoms")
def phantoms_command(
    reports: Annotated[Path | None, typer.Option(
        "--reports", "-r", metavar="FILE",
        help="Reports JSONL (id, findings, impression, mesh), e.g. from `data openi` or "
        "data_samples/reports.jsonl.")] = None,
    out: Annotated[Path | None, typer.Option(
        "--out", metavar="DIR", help="Folder for images/ and the manifest.")] = None,
    manifest: Annotated[Path | None, typer.Option(
        "--manifest", metavar="FILE",
        help="Manifest to write (.jsonl or .csv); default: DIR/manifest.jsonl.")] = None,
    size: Annotated[int, typer.Option("--size", min=16, max=4096, help="Image side in pixels.")]
    = 224,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Phantoms depend on (seed, id) only.")]
    = 0,
    workers: Annotated[int, typer.Option("--workers", "-w", min=1,
                                         help="Processes to render with.")] = 1,
    test_fraction: Annotated[float, typer.Option(
        "--test-fraction", min=0.0, max=1.0, help="Share of ids in the test split (by id hash).")]
    = 469 / 3955,
    valid_fraction: Annotated[float, typer.Option(
        "--valid-fraction", min=0.0, max=1.0, help="Share of ids in the valid split.")] = 0.05,
    gallery: Annotated[Path | None, typer.Option(
        "--gallery", metavar="PNG",
        help="Also draw one phantom per drawable finding, tag written under it, into this PNG.")]
    = None,
    quiet: QuietOption = False,
) -> None:
    """Render a phantom chest radiograph for each report, drawn from its MeSH tags.

    Writes DIR/images/ID.png and a manifest: id, image, findings, impression, tags, split.
    PNGs already there and whole are kept, so an interrupted run resumes.
    Tags the renderer cannot draw are ignored and counted.
    Reports without text are rejected with their line number.

    [bold]Examples[/bold]

      radperturb data phantoms --reports data_samples/reports.jsonl --out /tmp/phantoms

      radperturb data phantoms -r openi.jsonl --out /data/openi-phantoms --workers 16

      radperturb data phantoms --gallery docs/phantom_gallery.png
    """
    with reported_errors("data phantoms"):
        if (reports is None) != (out is None):
            raise UsageError("--reports and --out go together")
        if reports is None and gallery is None:
            raise UsageError("give --reports and --out to render a data set, or --gallery PNG")
        if test_fraction + valid_fraction > 1:
            raise UsageError("--test-fraction and --valid-fraction add up to more than 1")
        if reports is not None and out is not None:
            check_outputs({"--manifest": manifest or out / "manifest.jsonl"}, [reports])
        if gallery is not None:
            from pretrain.phantoms.gallery import render_gallery

            gallery.parent.mkdir(parents=True, exist_ok=True)
            tiles = render_gallery(gallery)
            if not quiet:
                stderr_console().print(f"wrote a gallery of {tiles} findings to {gallery}")
        if reports is not None and out is not None:
            _render_reports(reports, out, manifest or out / "manifest.jsonl", size=size,
                            seed=seed, workers=workers, test_fraction=test_fraction,
                            valid_fraction=valid_fraction, quiet=quiet)


def _render_reports(reports_path: Path, out: Path, manifest: Path, *, size: int, seed: int,
                    workers: int, test_fraction: float, valid_fraction: float,
                    quiet: bool) -> None:
    from pretrain.data.reports import read_reports
    from pretrain.phantoms.phantom_set import build_phantom_set

    reports, rejects = read_reports(reports_path)
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out}: exists and is not a folder")
    start = time.monotonic()
    with stage_progress(quiet) as progress:
        summary = build_phantom_set(
            reports, out, manifest, size=size, seed=seed, workers=workers,
            test_fraction=test_fraction, valid_fraction=valid_fraction,
            on_done=lambda n: progress("rendering", n, len(reports)))
    if quiet:
        return
    console = stderr_console()
    elapsed = time.monotonic() - start
    console.print(
        f"{summary.rows:,} image–report pairs in {manifest} ({summary.written:,} rendered, "
        f"{summary.kept:,} kept from an earlier run) in {elapsed:.1f} s; splits: "
        + ", ".join(f"{name} {summary.splits[name]:,}" for name in ("train", "valid", "test")))
    print_problems(console, "rejected rows of " + str(reports_path), [str(r) for r in rejects])
    print_problems(console, "reports whose image failed", [f"{i}: {e}" for i, e in summary.failed])
    if summary.ignored_tags:
        table = Table(title="MeSH tags the phantom cannot draw (ignored), by reports")
        table.add_column("tag")
        table.add_column("reports", justify="right")
        for tag, count in summary.ignored_tags.most_common(10):
            table.add_row(tag, f"{count:,}")
        rest = len(summary.ignored_tags) - 10
        if rest > 0:
            table.caption = f"and {rest:,} more tags"
        print_table(table, stderr=True)


@data_app.command("manifest")
def manifest_command(
    source: Annotated[Literal["openi", "mimic", "chexpert"], typer.Option(
        "--from", help="Layout of the data set under --root.")],
    root: Annotated[Path, typer.Option(
        "--root", metavar="DIR",
        help="openi: the folder of PNGs; mimic: the MIMIC-CXR-JPG folder (files/, CSVs); "
        "chexpert: the folder with train.csv and valid.csv.")],
    output: Annotated[Path, typer.Option("--output", "-o", metavar="FILE",
                                         help="Manifest to write (.jsonl or .csv).")],
    reports: Annotated[str | None, typer.Option(
        "--reports", metavar="PATH",
        help="openi: XML folder, NLMCXR_reports.tgz or the torchxrayvision wheel (default: "
        "fetch); mimic: folder of mimic-cxr-reports (default: --root); chexpert: a CheXpert "
        "Plus CSV with the report sections.")] = None,
    keep_without_text: Annotated[bool, typer.Option(
        "--keep-without-text", help="chexpert: keep images that have no report text.")] = False,
    quiet: QuietOption = False,
) -> None:
    """Make a manifest from a public data set downloaded by you.

    Image paths are written relative to the manifest's folder.
    Rows without an image or report text are skipped and counted by reason.

    [bold]Examples[/bold]

      radperturb data manifest --from openi --root NLMCXR_png --reports NLMCXR_reports.tgz \
        -o openi.jsonl

      radperturb data manifest --from mimic --root mimic-cxr-jpg/2.0.0 -o mimic.jsonl

      radperturb data manifest --from chexpert --root CheXpert-v1.0-small \
        --reports df_chexpert_plus.csv -o chexpert.csv
    """
    from pretrain.data.adapters import chexpert_manifest, mimic_manifest, openi_manifest
    from pretrain.data.manifest import write_manifest

    with reported_errors("data manifest"):
        if not root.is_dir():
            raise UsageError(f"{root}: no such folder")
        if reports is not None and not os.path.exists(reports):
            raise UsageError(f"{reports}: no such file or folder")
        if keep_without_text and source != "chexpert":
            raise UsageError("--keep-without-text applies to --from chexpert only")
        check_outputs({"--output": output}, [reports])
        if source == "openi":
            result = openi_manifest(reports, root, output.parent)
        elif source == "mimic":
            result = mimic_manifest(root, output.parent, reports=reports)
        else:
            result = chexpert_manifest(root, output.parent, reports=reports,
                                       keep_without_text=keep_without_text)
        write_manifest(output, result.rows)
        if not quiet:
            splits = Counter(row.split for row in result.rows)
            skipped = ", ".join(f"{n:,} {why}" for why, n in result.skipped.most_common())
            stderr_console().print(
                f"wrote {len(result.rows):,} rows to {output} ("
                + ", ".join(f"{s} {splits[s]:,}" for s in ("train", "valid", "test")) + ")"
                + (f"; skipped {skipped}" if skipped else ""))
