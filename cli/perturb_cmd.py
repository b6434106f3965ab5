"""`radperturb perturb`: a file of reports in, a perturbed corpus out."""

from __future__ import annotations

import os
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated, Literal

import typer

from cli.app import app
from cli.common_options import (
    KindsOption,
    ModelOption,
    PluginOption,
    ScopeOption,
    SeedOption,
    kinds_from_option,
    load_user_perturbations,
)
from cli.corpus_summary import Tally
from cli.corpus_writers import (
    STDOUT,
    corpus_writer,
    default_rejects_path,
    open_output,
    open_rejects,
    output_format,
)
from cli.console import print_table
from cli.errors import DataError, reported_errors
from cli.paths import check_outputs
from cli.perturb_stream import ParseSource, PerturbOptions, perturb_records
from cli.progress import report_progress
from cli.records import STDIN, ByteCount, Reject, Schema, check_inputs, read_records
from cli.sharding import Shard
from cli.spacy_model import model_identity
from perturb import __version__
from perturb.cache import ParseCache, ParseCacheWriter


@app.command("perturb")
def perturb_command(
    inputs: Annotated[
        list[str],
        typer.Argument(
            metavar="INPUT",
            help="Files of reports (JSONL, CSV, TSV, text; .gz too), or - for stdin.",
            show_default=False,
        ),
    ],
    output: Annotated[
        str,
        typer.Option(
            "--output", "-o", metavar="OUTPUT", help="Output file (.jsonl, .csv, .gz), or - for stdout."
        ),
    ],
    input_format: Annotated[
        Literal["jsonl", "csv", "tsv", "text"] | None,
        typer.Option(
            "--format",
            help="Input format; default: from the extension (stdin: JSONL if it starts with '{', else text).",
        ),
    ] = None,
    out_format: Annotated[
        Literal["jsonl", "csv"] | None,
        typer.Option("--output-format", help="Output format; default: CSV for .csv, else JSONL."),
    ] = None,
    id_field: Annotated[
        str,
        typer.Option(
            "--id-field",
            metavar="NAME",
            help="Field with the record id; the line number when a row lacks it.",
        ),
    ] = "id",
    fields: Annotated[
        list[str] | None,
        typer.Option(
            "--field",
            metavar="NAME",
            help="Text field (repeatable; joined with a blank line). "
            "Default: text, else findings + impression.",
        ),
    ] = None,
    kinds: KindsOption = None,
    per_kind: Annotated[int, typer.Option("--per-kind", min=1, metavar="N", help="Draws per kind.")] = 1,
    scope: ScopeOption = "report",
    seed: SeedOption = 0,
    n_process: Annotated[
        int, typer.Option("--n-process", min=1, metavar="N", help="spaCy parser processes.")
    ] = 1,
    batch_size: Annotated[
        int, typer.Option("--batch-size", min=1, metavar="N", help="Reports per parser batch.")
    ] = 64,
    model: ModelOption = None,
    shard: Annotated[
        str | None,
        typer.Option(
            "--shard", metavar="I/N", help="Only shard I of N (0 <= I < N), split by a stable hash of the id."
        ),
    ] = None,
    cache_parses: Annotated[
        Path | None,
        typer.Option(
            "--cache-parses",
            metavar="FILE",
            help="Parse cache (.jsonl/.gz): reused where id, text and model match, "
            "then rewritten with this run's parses.",
        ),
    ] = None,
    plugins: PluginOption = None,
    on_error: Annotated[
        Literal["skip", "fail"],
        typer.Option(
            "--on-error",
            help="skip: write bad rows to the rejects file and go on; fail: stop at the first (exit 1).",
        ),
    ] = "skip",
    rejects: Annotated[
        str | None,
        typer.Option(
            "--rejects",
            metavar="FILE",
            help="Rejects file; default OUTPUT.rejects.jsonl (stderr lines when OUTPUT is -).",
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar and no summary.")] = False,
) -> None:
    """Perturb every report of a corpus: one output row per report with its negatives.

    Negatives depend only on (seed, id, kind, draw), so runs are reproducible and
    [bold]--shard[/bold] outputs concatenate to the unsharded output. Bad rows are counted and
    written to a rejects file with file, line and reason (read = written + rejected).
    Exit codes: 0 done, 1 bad data (with --on-error fail), 2 bad usage.

    [bold]Examples[/bold]

      radperturb perturb reports.jsonl -o negatives.jsonl

      radperturb perturb reports.csv --field findings -k reverse_sentence -o n.csv

      cat notes.txt | radperturb perturb - --format text -o - -q | head -1

      radperturb perturb big.jsonl.gz --shard $TASK/8 -o part-$TASK.jsonl

      radperturb perturb big.jsonl.gz --cache-parses parses.jsonl.gz -o neg.jsonl
    """
    with reported_errors("perturb"):
        the_shard = Shard.parse(shard)
        load_user_perturbations(plugins)
        options = PerturbOptions(kinds_from_option(kinds), per_kind, seed, scope)
        schema = Schema(id_field, tuple(fields or ()))
        check_inputs(inputs, input_format)
        rejects_path = None if on_error == "fail" else rejects or default_rejects_path(output)
        check_outputs({"--output": output, "--rejects": rejects_path, "--cache-parses": cache_parses}, inputs)
        identity = model_identity(model)
        cache = ParseCache.load(cache_parses) if cache_parses is not None and cache_parses.exists() else None
        parses = ParseSource(model, identity, cache, n_process=n_process, batch_size=batch_size)
        meta = {
            "radperturb": __version__,
            "model": identity.name,
            "model_version": identity.version,
            "seed": seed,
            "scope": scope,
        }
        tally = Tally(options.kinds)
        counter = ByteCount()
        started = time.monotonic()
        records = read_records(
            inputs, schema, explicit_format=input_format, stdin=sys.stdin.buffer, counter=counter
        )
        with ExitStack() as stack:
            writer = corpus_writer(
                output_format(output, out_format), stack.enter_context(open_output(output)), meta
            )
            rejected = stack.enter_context(open_rejects(rejects_path))
            cache_writer = stack.enter_context(ParseCacheWriter(cache_parses)) if cache_parses else None
            update = stack.enter_context(report_progress(_total_bytes(inputs), quiet=quiet))
            cached_now: set[str] = set()
            for item in perturb_records(records, parses, options, the_shard):
                if isinstance(item, Reject):
                    if on_error == "fail":
                        raise DataError(str(item))
                    rejected.write(item)
                    tally.rejected += 1
                else:
                    writer.write(item.record, item.parsed.text, item.results)
                    if cache_writer is not None:
                        cache_writer.add(item.record.key, item.record.text, item.parsed)
                        cached_now.add(str(item.record.key))
                    tally.add(item)
                update(counter.value, tally.read)
            if cache_writer is not None and cache is not None:
                # Keep what this run did not touch (other shards, other corpora) in the rewrite.
                for key, digest, parsed in cache.items():
                    if key not in cached_now:
                        cache_writer.add_digest(key, digest, parsed)
        if not quiet:
            table = tally.table(time.monotonic() - started, parses.parsed, parses.from_cache)
            where = "stdout" if output == STDOUT else output
            table.caption = f"output: {where}" + (f" · rejects: {rejects_path}" if rejects_path else "")
            if the_shard.count > 1:
                table.caption += f" · shard {the_shard}"
            print_table(table, stderr=True)


def _total_bytes(inputs: list[str]) -> int | None:
    """Input size for the progress bar; unknown for stdin and for compressed files."""
    if any(p == STDIN or p.lower().endswith(".gz") for p in inputs):
        return None
    return sum(os.path.getsize(p) for p in inputs)
