"""`radperturb evaluate`, `evaluate-nli`, `explain`, `generate` and `benchmark ablation`: measure
what a model learned. The work lives in `pretrain.evaluation` (and `pretrain.hybridmed.generate`);
this module parses options and prints results."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from cli.app import app
from cli.common_options import train_settings
from cli.console import print_problems, print_table, stderr_console
from cli.errors import UsageError, reported_errors
from cli.progress import stage_progress
from perturb.io.paths import check_outputs

benchmark_app = typer.Typer(help="Train and evaluate several settings on the same data and seeds.",
                            no_args_is_help=True)
app.add_typer(benchmark_app, name="benchmark")

DeviceOption = Annotated[
    str, typer.Option("--device", metavar="DEVICE", help="torch device: auto, cpu, cuda, cuda:1, mps.")
]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")]
CheckpointArgument = Annotated[Path, typer.Argument(
    metavar="CHECKPOINT", show_default=False, help="A run folder, its final/ export or a checkpoint-* folder.")]
ProbeSplitOption = Annotated[str, typer.Option(
    "--probe-split", help="Split the linear probe is fitted on; 'none' skips it.")]
PairsOption = Annotated[str, typer.Option(
    "--pairs", metavar="FILE|auto|none",
    help="Counterfactual pairs to score 2×2: a pairs file (`data counterfactuals`, or your own), "
         "'auto' (made from the split's reports into OUT/pairs) or 'none'.")]
CeilingOption = Annotated[Path | None, typer.Option(
    "--ceiling", metavar="DIR", show_default=False,
    help="An image-only reference CNN (scripts/image_ceiling.py) scored on the same pairs.")]


def _device(name: str) -> str:
    """The device `--device` names (see `pretrain.device.resolve_device`), as torch writes it."""
    from pretrain.device import DeviceError, resolve_device

    try:
        return str(resolve_device(name))
    except DeviceError as err:
        raise UsageError(f"--device {err.name}: {err.reason}") from None


def _fraction(value: float | None) -> str:
    return "n/a" if value is None or value != value else f"{value:.3f}"


def _quiet_transformers() -> None:
    """transformers' own tqdm bars and load reports would interleave with ours."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()


def _load_checkpoint(checkpoint: Path, device: str):
    from pretrain.train.checkpoint import load_for_eval

    if not checkpoint.exists():
        raise UsageError(f"no such checkpoint or run folder: {checkpoint}")
    _quiet_transformers()
    model, tokenizer, config = load_for_eval(checkpoint)
    return model.to(device), tokenizer, config


def _split_option(value: str, option: str) -> str:
    from pretrain.data.splits import SPLITS

    if value not in SPLITS:
        raise UsageError(f"{option} must be one of {', '.join(SPLITS)}, got {value!r}")
    return value


def _existing(path: Path | None, option: str) -> Path | None:
    if path is not None and not path.is_file():
        raise UsageError(f"{option}: no such file: {path}")
    return path


def _existing_folder(path: Path | None, option: str) -> Path | None:
    if path is not None and not path.is_dir():
        raise UsageError(f"{option}: no such folder: {path}")
    return path


def _semantic_table(result: dict) -> Table:
    """Accuracy with each report's own image beside its blind baselines on the same candidates:
    another patient's image, and an n-gram model of the training reports with no image. What a
    baseline reaches, the model can reach without looking at the report's own image."""
    semantic = result["semantic"]
    controls = [result["semantic_other_image"], result.get("semantic_blind_lm")]
    table = Table(title="Clinical semantic structure: the original must score strictly highest",
                  caption="each kind alone: original vs that kind (chance 50%); other image: the "
                          "same score with another patient's image; blind LM: a word-bigram model "
                          "of the training reports, no image")
    for column in ("setting", "accuracy", "other image", "blind LM", "chance", "reports",
                   "skipped", "ties"):
        table.add_column(column, justify="left" if column == "setting" else "right")
    table.columns[0].no_wrap = True
    rows = [("paper (4 kinds)", ("paper",)), ("all nine (the paper's)", ("all",))]
    rows += [(f"  {kind}", ("per_kind", kind)) for kind in semantic["per_kind"]]

    def pick(report: dict | None, path: tuple[str, ...]) -> dict | None:
        for key in path:
            report = None if report is None else report[key]
        return report

    for name, path in rows:
        r = pick(semantic, path)
        cells = [_fraction(None if c is None else pick(c, path)["accuracy"]) for c in controls]
        table.add_row(name, _fraction(r["accuracy"]), *cells, _fraction(r["chance"]), str(r["n"]),
                      str(r["n_skipped"]), str(r["ties"]))
    return table


def _pairs_methods(pairs: dict) -> dict[str, dict]:
    """The 2×2 reports of a pairs evaluation by method, the model first."""
    names = {"model": "model", "blind_lm": "blind LM", "image_only_reference": "image-only CNN"}
    return {shown: pairs[key] for key, shown in names.items() if key in pairs}


def _pairs_table(pairs: dict) -> Table:
    """Text / image / group score per family for the model and the baselines beside it."""
    methods = _pairs_methods(pairs)
    table = Table(title=f"Counterfactual pairs ({pairs['n_pairs']} in {pairs['pairs_file']}): "
                        "text / image / group score",
                  caption="text: each image prefers its own report; image: each report prefers its "
                          "own image; group: both; ties are wrong. Any f(report) + g(image) gets 0")
    table.add_column("family")
    table.add_column("pairs", justify="right")
    for method in methods:
        table.add_column(method, justify="right")
    chance = pairs["chance"]
    table.add_column("chance", justify="right", style="dim")
    families = [*methods["model"]["per_family"], "overall"]
    for family in families:
        entries = [m["overall"] if family == "overall" else m["per_family"].get(family)
                   for m in methods.values()]
        cells = ["n/a" if e is None else " / ".join(_fraction(e[s]["score"]) for s in chance)
                 for e in entries]
        table.add_row(family, str(entries[0]["n"]), *cells,
                      " / ".join(_fraction(chance[s]) for s in chance))
    return table


def _pairs_file(value: str, checkpoint_config, manifest: Path, split: str, out: Path,
                parse_cache: Path | None, quiet: bool) -> Path | None:
    """`--pairs`: a pairs file as given, none, or (auto) the counterfactual pairs of the split
    made afresh in OUT/pairs at the model's image size."""
    if value == "none":
        return None
    if value != "auto":
        return _existing(Path(value), "--pairs")
    from pretrain.data.manifest import read_manifest
    from pretrain.phantoms.counterfactual_text import write_counterfactual_pairs

    rows = [row for row in read_manifest(manifest, rejects=[]) if row.split == split]
    with stage_progress(quiet) as progress:
        write_counterfactual_pairs(rows, out / "pairs", parse_cache=parse_cache,
                                   size=checkpoint_config.image_size,
                                   on_done=lambda n: progress("making counterfactual pairs", n, len(rows)))
    return out / "pairs" / "pairs.jsonl"


def _retrieval_table(retrieval: dict) -> Table:
    ks = list(retrieval["image_to_report"])
    table = Table(title=f"Retrieval over {retrieval['n']} pairs (identical reports count as hits)")
    table.add_column("direction")
    for k in ks:
        table.add_column(k, justify="right")
    for direction in ("image_to_report", "report_to_image"):
        values = (_fraction(retrieval[direction][k]) for k in ks)
        table.add_row(direction.replace("_to_", " → "), *values)
    table.add_row("[dim]random ranking", *(f"[dim]{_fraction(retrieval['chance'][k])}" for k in ks))
    return table


def _classifiers(result: dict) -> dict[str, dict]:
    methods = {"zero-shot": result["zero_shot"]}
    if result.get("linear_probe"):
        methods["linear probe"] = result["linear_probe"]
    return methods


def _classification_table(result: dict) -> Table:
    methods = _classifiers(result)
    table = Table(title="Finding classification AUROC (labels from MeSH; n/a: one class only)")
    table.add_column("label")
    table.add_column("positives", justify="right")
    for method in methods:
        table.add_column(method, justify="right")
    for label, entry in result["zero_shot"]["per_label"].items():
        cells = [_fraction(m["per_label"][label]["auroc"]) for m in methods.values()]
        table.add_row(label, f"{entry['n_positive']}/{entry['n']}", *cells)
    table.add_row("[bold]macro", "", *(_fraction(m["macro_auroc"]) for m in methods.values()))
    return table


@app.command("evaluate")
def evaluate_command(
    checkpoint: CheckpointArgument,
    manifest: Annotated[Path, typer.Option(
        "--manifest", "-m", metavar="FILE", show_default=False,
        help="Image–report manifest (id, image, findings, impression, tags, split).")],
    split: Annotated[str, typer.Option("--split", help="Split to evaluate on.")] = "test",
    probe_split: ProbeSplitOption = "train",
    out: Annotated[Path, typer.Option(
        "--out", "-o", metavar="DIR", help="Where evaluation.json and the PNG plots go.")] = Path("evaluation"),
    parse_cache: Annotated[Path | None, typer.Option(
        "--parse-cache", metavar="FILE",
        help="Parses of the reports (e.g. from `benchmark ablation`); missing ones are parsed with spaCy.")] = None,
    kinds: Annotated[str, typer.Option(
        "--kinds", "-k", metavar="KINDS",
        help="Perturbations scored each alone: comma-separated names, 'paper', 'clinical' or 'all' "
             "(the 'all nine' setting is always the paper's nine).")] = "paper",
    seed: Annotated[int, typer.Option("--seed", min=0, help="Seed of the perturbed negatives.")] = 0,
    pairs: PairsOption = "auto",
    ceiling: CeilingOption = None,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1)] = 32,
    device: DeviceOption = "auto",
    quiet: QuietOption = False,
) -> None:
    """Evaluate a pretrained model: semantic structure, counterfactual pairs, retrieval and
    classification.

    For each image of the split, its report competes with perturbed versions of itself (same
    words, other order or antonyms): accuracy is the share of images whose original scores
    strictly highest, shown beside its blind baselines on the same candidates (another patient's
    image; an n-gram model of the training reports, no image). On counterfactual pairs (two
    images, two reports, one finding apart) the text, image and group scores, which no
    text-only or image-only prior can pass. Also image↔report Recall@1/5/10 and zero-shot /
    linear-probe AUROC for labels derived from MeSH tags. Writes OUT/evaluation.json,
    semantic.png, pairs.png, retrieval.png and classification.png.

    [bold]Examples[/bold]

      radperturb evaluate runs/ours --manifest phantoms/manifest.jsonl

      radperturb evaluate runs/ours -m phantoms/manifest.jsonl --pairs my_pairs.jsonl --ceiling ceiling/

      radperturb evaluate runs/ours/checkpoint-0002000 -m data/manifest.jsonl --split valid --device cuda
    """
    with reported_errors("evaluate"):
        from perturb import resolve_kinds
        from pretrain.evaluation.io import write_json
        from pretrain.evaluation.plots import (
            plot_classification, plot_grounded, plot_retrieval, plot_semantic,
        )
        from pretrain.evaluation.runner import EvalOptions, evaluate_loaded

        split = _split_option(split, "--split")
        probe = None if probe_split == "none" else _split_option(probe_split, "--probe-split")
        _existing(manifest, "--manifest")
        _existing(parse_cache, "--parse-cache")
        try:
            names = tuple(resolve_kinds(kinds))
        except KeyError as err:
            raise UsageError(str(err.args[0])) from None
        _existing_folder(ceiling, "--ceiling")
        device = _device(device)
        model, tokenizer, config = _load_checkpoint(checkpoint, device)
        pairs_file = _pairs_file(pairs, config, manifest, split, out, parse_cache, quiet)
        options = EvalOptions(split=split, probe_split=probe, kinds=names, seed=seed,
                              batch_size=batch_size, device=device,
                              parse_cache=None if parse_cache is None else str(parse_cache),
                              pairs_file=None if pairs_file is None else str(pairs_file),
                              ceiling=None if ceiling is None else str(ceiling))
        with stage_progress(quiet) as progress:
            result = evaluate_loaded(model, tokenizer, config, manifest, options, progress)
        result["checkpoint"] = str(checkpoint)
        semantic = {"own image": result["semantic"],
                    "another patient's image": result["semantic_other_image"]}
        if result["semantic_blind_lm"] is not None:
            semantic["blind n-gram LM (no image)"] = result["semantic_blind_lm"]
        outputs = [
            write_json(out / "evaluation.json", result),
            plot_semantic(semantic, out / "semantic.png"),
            plot_retrieval(result["retrieval"], out / "retrieval.png"),
            plot_classification(_classifiers(result), out / "classification.png"),
        ]
        tables = [_semantic_table(result)]
        if "pairs" in result:
            outputs.append(plot_grounded(_pairs_methods(result["pairs"]), out / "pairs.png"))
            tables.append(_pairs_table(result["pairs"]))
        for table in (*tables, _retrieval_table(result["retrieval"]), _classification_table(result)):
            print_table(table)
        if result.get("generation"):
            print_table(_generation_table(result["generation"]))
        typer.echo(f"wrote {', '.join(map(str, outputs))}", err=True)


@app.command("evaluate-pairs")
def evaluate_pairs_command(
    checkpoint: CheckpointArgument,
    pairs: Annotated[Path, typer.Argument(
        metavar="PAIRS", show_default=False,
        help="Pairs file (JSONL: image_a, text_a, image_b, text_b, family; image paths relative to it).")],
    out: Annotated[Path, typer.Option(
        "--out", "-o", metavar="DIR", help="Where pairs.json and pairs.png go.")] = Path("evaluation"),
    manifest: Annotated[Path | None, typer.Option(
        "--manifest", "-m", metavar="FILE", show_default=False,
        help="A manifest whose training split's reports fit the blind n-gram baseline.")] = None,
    ceiling: CeilingOption = None,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Seed of the bootstrap.")] = 0,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1)] = 32,
    device: DeviceOption = "auto",
    quiet: QuietOption = False,
) -> None:
    """Score a model on image–report pairs that differ in one finding: text, image, group score.

    Text score: each image scores its own report above the other; image score: each report
    scores its own image above the other; group: both (chance 25 %, 25 %, 16.7 %; ties are
    wrong). Per family and overall, with bootstrap 95 % intervals over reports. Rows that cannot
    be used are counted with their line numbers. Writes OUT/pairs.json and OUT/pairs.png.

    [bold]Examples[/bold]

      radperturb evaluate-pairs runs/ours pairs/pairs.jsonl -m phantoms/manifest.jsonl

      radperturb evaluate-pairs runs/ours/final my_real_pairs.jsonl --ceiling ceiling/ -o eval
    """
    with reported_errors("evaluate-pairs"):
        from pretrain.evaluation.io import write_json
        from pretrain.evaluation.plots import plot_grounded
        from pretrain.evaluation.runner import EvalOptions, evaluate_pairs_loaded, training_lm

        _existing(pairs, "PAIRS")
        _existing(manifest, "--manifest")
        _existing_folder(ceiling, "--ceiling")
        check_outputs({"--out": out / "pairs.json"}, [pairs])
        device = _device(device)
        model, tokenizer, config = _load_checkpoint(checkpoint, device)
        blind = None if manifest is None else training_lm(manifest)
        options = EvalOptions(seed=seed, batch_size=batch_size, device=device,
                              ceiling=None if ceiling is None else str(ceiling))
        with stage_progress(quiet) as progress:
            result = evaluate_pairs_loaded(model, tokenizer, config, pairs, options, blind, progress)
        result["checkpoint"] = str(checkpoint)
        outputs = [write_json(out / "pairs.json", result),
                   plot_grounded(_pairs_methods(result), out / "pairs.png")]
        print_table(_pairs_table(result))
        print_problems(stderr_console(), f"rejected rows of {pairs}", result["rejected_rows"])
        typer.echo(f"wrote {', '.join(map(str, outputs))}", err=True)


def _generation_table(generation: dict) -> Table:
    """The written impressions' scores beside the blind constant impression and the ceiling."""
    columns = ("bleu1", "bleu2", "bleu3", "bleu4", "rougeL")
    table = Table(title=f"Impressions written from the images ({generation['n']} with a reference; "
                        f"{generation['skipped_no_impression']} without one skipped)")
    for name in ("written by", *[c.replace("bleu", "BLEU-").replace("rougeL", "ROUGE-L") for c in columns],
                 "clinical micro F1"):
        table.add_column(name, justify="left" if name == "written by" else "right")

    def row(name: str, scores: dict | None, clinical: dict | None) -> None:
        cells = [_fraction(None if scores is None else scores[c]) for c in columns]
        table.add_row(name, *cells, _fraction(None if clinical is None else clinical["micro"]["f1"]))

    row("the model (captioning branch)", generation["scores"], generation["clinical"])
    blind = generation["blind"]
    if blind is not None:
        constant = blind["constant"]
        row("blind: the commonest train impression", constant, constant["clinical"])
        row("ceiling: the reference itself", None, blind["reference"]["clinical"])
    return table


@app.command("generate")
def generate_command(
    checkpoint: CheckpointArgument,
    images: Annotated[list[Path], typer.Option(
        "--image", "-i", metavar="FILE", show_default=False, help="A radiograph (PNG, JPEG, DICOM); repeatable.")],
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", metavar="JSONL", show_default=False,
        help="Where to write one {image, impression} line per image (default: stdout).")] = None,
    beam_size: Annotated[int, typer.Option("--beam-size", min=1, help="Beams; 1 is greedy decoding.")] = 1,
    max_new_tokens: Annotated[int, typer.Option("--max-new-tokens", min=1, help="Length limit in tokens.")] = 64,
    device: DeviceOption = "auto",
) -> None:
    """Write an impression for each image with a HybridMED model's captioning branch.

    The checkpoint must have been trained with a generation term (--objective hybridmed). Images are read at the size the model was trained with.

    [bold]Examples[/bold]

      radperturb generate runs/hybridmed -i phantoms/images/sample-002.png

      radperturb generate runs/hybridmed/final -i a.png -i b.png --beam-size 3 -o impressions.jsonl
    """
    with reported_errors("generate"):
        import json

        from perturb.io.atomic import atomic_open
        from pretrain.hybridmed.generate import caption_files, check_decoder

        for image in images:
            _existing(image, "--image")
        if output is not None:
            check_outputs({"--output": output}, images)
        device = _device(device)
        model, tokenizer, config = _load_checkpoint(checkpoint, device)
        check_decoder(model, str(checkpoint))
        written = caption_files(model, tokenizer, config, images, device=device, beam_size=beam_size,
                                max_new_tokens=max_new_tokens)
        lines = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in written)
        if output is None:
            typer.echo(lines, nl=False)
        else:
            with atomic_open(output, "w") as handle:
                handle.write(lines)
            typer.echo(f"wrote {output} ({len(written)} impressions)", err=True)


@app.command("explain")
def explain_command(
    checkpoint: CheckpointArgument,
    image: Annotated[Path, typer.Option(
        "--image", "-i", metavar="FILE", show_default=False, help="The radiograph (PNG, JPEG, DICOM).")],
    report: Annotated[str, typer.Option(
        "--report", "-r", metavar="TEXT", show_default=False,
        help="The report text, or @FILE to read it from a file.")],
    out: Annotated[Path, typer.Option(
        "--out", "-o", metavar="PNG", help="The heatmap grid to write.")] = Path("explain.png"),
    columns: Annotated[int, typer.Option("--columns", min=1, help="Panels per row.")] = 6,
    queries: Annotated[bool, typer.Option(
        "--queries", help="Show PLACE's pathology queries instead of the words: where each query of the "
        "VPOE looks, and the report sentence it is matched to (models trained with --pcma).")] = False,
    device: DeviceOption = "auto",
) -> None:
    """Show where each word of a report looks in the image: word→region attention heatmaps.

    The attention is the one the local (GLoRIA) loss trains: each word's softmax over image
    regions. All panels share one colour scale; under each word, its peak weight relative to
    uniform attention (1× means the word looks everywhere alike). Punctuation is left out. Most
    informative for models trained with the local loss (settings gloria and ours). With --queries,
    one panel per pathology query of the VPOE: "q → sentence" names the report sentence that
    PCMA's transport plan gives most of the query's mass, then that share, the dustbin's share
    and the peak.

    [bold]Examples[/bold]

      radperturb explain runs/ours -i phantoms/images/sample-002.png -r "Small left pleural effusion."

      radperturb explain runs/ours/final -i cxr.png -r @report.txt -o alignment.png

      radperturb explain runs/place -i cxr.png -r @report.txt --queries -o queries.png
    """
    with reported_errors("explain"):
        import textwrap

        from pretrain.evaluation.explain import explain_pair, explain_queries
        from pretrain.evaluation.plots import plot_word_heatmaps

        if report.startswith("@"):
            path = _existing(Path(report[1:]), "--report")
            try:
                report = path.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                raise UsageError(f"--report {path}: not UTF-8 text") from None
        _existing(image, "--image")
        check_outputs({"--out": out}, [image])
        device = _device(device)
        model, tokenizer, config = _load_checkpoint(checkpoint, device)
        if queries:
            explanation, matches = explain_queries(model, tokenizer, config, image, report, device=device)
            labels = [f"{q} → {textwrap.shorten(m.sentence, 22, placeholder='…')}" for q, m in enumerate(matches)]
            captions = [f"{m.mass:.0%} · bin {m.dustbin:.0%} · peak {p:.1f}×"
                        for m, p in zip(matches, explanation.peak_over_uniform)]
        else:
            explanation = explain_pair(model, tokenizer, config, image, report, device=device)
            labels = explanation.words
            captions = [f"peak {p:.1f}× uniform" for p in explanation.peak_over_uniform]
        plot_word_heatmaps(explanation.image, labels, explanation.heatmaps, out, captions, columns)
        typer.echo(f"wrote {out} ({len(explanation.words)} {'queries' if queries else 'words'})", err=True)



@app.command("evaluate-nli")
def evaluate_nli_command(
    encoder_dir: Annotated[Path, typer.Argument(
        metavar="ENCODER_DIR", show_default=False,
        help="A transformers model folder (save_pretrained), or a pretraining run (its text encoder).")],
    train: Annotated[Path, typer.Option(
        "--train", metavar="JSONL", show_default=False,
        help="Training pairs: premise, hypothesis, label (MedNLI's sentence1, sentence2, gold_label too).")],
    test: Annotated[Path, typer.Option(
        "--test", metavar="JSONL", show_default=False, help="Test pairs, same format.")],
    out: Annotated[Path, typer.Option(
        "--out", "-o", metavar="DIR", help="Where nli.json and nli_loss.png go.")] = Path("nli_eval"),
    epochs: Annotated[int, typer.Option("--epochs", min=1)] = 3,
    lr: Annotated[float, typer.Option("--lr", min=0.0)] = 3e-5,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1)] = 16,
    max_length: Annotated[int, typer.Option("--max-length", min=8)] = 128,
    seed: Annotated[int, typer.Option("--seed", min=0)] = 0,
    device: DeviceOption = "auto",
    quiet: QuietOption = False,
) -> None:
    """Fine-tune a text encoder on sentence-pair NLI (MedNLI / RadNLI) and report test accuracy.

    Malformed rows are skipped and counted. Writes OUT/nli.json (metrics, confusion matrix, loss
    per step) and OUT/nli_loss.png.

    [bold]Examples[/bold]

      radperturb evaluate-nli runs/ours --train mednli_train.jsonl --test mednli_test.jsonl

      radperturb evaluate-nli ./my_bert --train radnli_dev.jsonl --test radnli_test.jsonl --epochs 5
    """
    with reported_errors("evaluate-nli"):
        from pretrain.evaluation.io import write_json
        from pretrain.evaluation.nli import NLIConfig, fine_tune_nli, load_nli
        from pretrain.evaluation.plots import plot_loss

        _quiet_transformers()
        train_pairs, train_rejects = load_nli(train)
        test_pairs, test_rejects = load_nli(test)
        config = NLIConfig(epochs=epochs, lr=lr, batch_size=batch_size, max_length=max_length,
                           seed=seed, device=_device(device))
        with stage_progress(quiet) as progress:
            result = fine_tune_nli(encoder_dir, train_pairs, test_pairs, config,
                                   lambda step, total, loss: progress("fine-tuning", 1, total, {"loss": loss}))
        record = {**result.to_dict(), "encoder": str(encoder_dir), "train": str(train),
                  "test": str(test), "rejected_rows": {"train": train_rejects, "test": test_rejects},
                  "config": vars(config)}
        write_json(out / "nli.json", record)
        plot_loss(result.losses, out / "nli_loss.png", title="NLI fine-tuning loss")
        table = Table(title=f"NLI: {len(train_pairs)} train / {len(test_pairs)} test pairs")
        table.add_column("metric")
        table.add_column("value", justify="right")
        table.add_row("accuracy", _fraction(result.accuracy))
        table.add_row("macro-F1", _fraction(result.macro_f1))
        for name, f1 in result.per_class_f1.items():
            table.add_row(f"F1 {name}", _fraction(f1))
        table.add_row("rejected rows (train/test)", f"{train_rejects}/{test_rejects}")
        print_table(table)
        typer.echo(f"wrote {out / 'nli.json'} and {out / 'nli_loss.png'}", err=True)


def _seed_list(value: str) -> list[int]:
    try:
        seeds = [int(s) for s in value.split(",") if s.strip()]
    except ValueError:
        raise UsageError(f"--seeds must be comma-separated integers, got {value!r}") from None
    if not seeds or min(seeds) < 0:
        raise UsageError(f"--seeds must name non-negative integers, got {value!r}")
    return list(dict.fromkeys(seeds))


def _base_config(config_file: Path | None, overrides: dict):
    """The flags over --config, over the defaults."""
    from pretrain.train.config import TrainConfig

    try:
        base = TrainConfig.load(config_file) if config_file is not None else TrainConfig()
        base = base.with_overrides(overrides, where="command line")
        if not base.manifest:
            raise UsageError("give --manifest (or a config file that names one)")
        _existing(Path(base.manifest), "--manifest")
        base.validate()
    except UnicodeDecodeError:
        raise UsageError(f"{config_file}: not UTF-8 text, not a TOML config") from None
    return base


def _ablation_table(summary_path: Path) -> Table:
    import json

    data = json.loads(summary_path.read_text(encoding="utf-8"))
    table = Table(title="Ablation: mean ± std over seeds (also in ablation.md)",
                  caption="*_other_image: the semantic score with another patient's image; "
                          "*_blind_lm: a word-bigram model of the training reports, no image")
    table.add_column("metric")
    for setting in data["settings"]:
        seeds = ",".join(map(str, data["done"][setting])) or "none"
        table.add_column(f"{setting}\n[dim]seeds {seeds}[/dim]", justify="right")
    table.add_column("chance", justify="right", style="dim")
    for metric in data["metrics"]:
        cells = []
        for setting in data["settings"]:
            entry = data["summary"][setting][metric]
            mean, std = entry["mean"], entry["std"]
            spread = "" if std is None else f" ± {std:.3f}"
            cells.append("n/a" if mean is None else f"{mean:.3f}{spread}")
        chances = [data["summary"][s][metric]["chance"] for s in data["settings"]]
        chance = next((c for c in chances if c is not None), None)
        table.add_row(metric, *cells, _fraction(chance))
    return table


#: The training settings `benchmark ablation` takes as flags (every run shares them).
ABLATION_SETTINGS = ("max_steps", "batch_size", "image_encoder", "text_encoder", "tokenizer", "image_size",
                     "k_negatives", "embed_dim", "save_every", "num_workers")


@benchmark_app.command("ablation")
@train_settings(ABLATION_SETTINGS)
def ablation_command(
    manifest: Annotated[Path | None, typer.Option(
        "--manifest", "-m", metavar="FILE", show_default=False,
        help="Image–report manifest shared by every run.")] = None,
    out: Annotated[Path, typer.Option(
        "--out", "-o", metavar="DIR", help="Runs, results and the summary table.")] = Path("runs/ablation"),
    seeds: Annotated[str, typer.Option(
        "--seeds", metavar="SEEDS", help="Comma-separated training seeds.")] = "0,1,2",
    settings: Annotated[str, typer.Option(
        "--settings", metavar="SETTINGS",
        help="Comma-separated: clip (global), gloria (global+local), ours_no_local "
        "(global+perturbation), ours (all three), ours_clinical (ours with negatives from the clinical "
        "edits too, swap_location held out), hybridmed (its five terms in two stages; "
        "docs/hybridmed.md), place (global+local+PLACE's pcma and cce).")] = (
        "clip,gloria,ours_no_local,ours"),  # ablation.PAPER_SETTINGS
    config_file: Annotated[Path | None, typer.Option(
        "--config", "-c", metavar="TOML", show_default=False,
        help="Base training config; the training settings given as flags override it.")] = None,
    parse_cache: Annotated[Path | None, typer.Option(
        "--parse-cache", metavar="FILE", show_default=False,
        help="Parses of every manifest report (default: made once in OUT/parses.jsonl.gz).")] = None,
    eval_split: Annotated[str, typer.Option("--eval-split", help="Split every run is evaluated on.")] = "test",
    probe_split: ProbeSplitOption = "train",
    eval_seed: Annotated[int, typer.Option(
        "--eval-seed", min=0, help="Seed of the evaluation's perturbed negatives.")] = 0,
    pairs: Annotated[Path | None, typer.Option(
        "--pairs", metavar="FILE", show_default=False,
        help="Counterfactual pairs file (`data counterfactuals`) every run is scored on 2×2.")] = None,
    ceiling: CeilingOption = None,
    time_budget: Annotated[float | None, typer.Option(
        "--time-budget", min=1.0, metavar="SECONDS", show_default=False,
        help="Stop cleanly after this long (training saves a checkpoint); run again to continue.")] = None,
    device: DeviceOption = "auto",
    quiet: QuietOption = False,
    *,
    overrides: dict,
) -> None:
    """Train and evaluate the paper's four settings over several seeds; a mean ± std table.

    Every run uses the same manifest, steps, batch size, encoders and seeds; only the loss terms
    differ. Resumable: finished (setting, seed) runs are skipped, interrupted ones resume from
    their last checkpoint, so it can be run in short calls (use --time-budget). Writes
    OUT/ablation.md, OUT/ablation.json, OUT/ablation.png, and per run OUT/results/SETTING-seedN.json.

    [bold]Examples[/bold]

      radperturb benchmark ablation -m phantoms/manifest.jsonl --max-steps 2000 --device cuda

      radperturb benchmark ablation -m data/manifest.jsonl --config base.toml --time-budget 540

      radperturb benchmark ablation -m phantoms/manifest.jsonl --settings clip,ours --seeds 0 --max-steps 50 --image-encoder tiny-resnet --text-encoder tiny-bert --image-size 64
    """
    with reported_errors("benchmark ablation"):
        from pretrain.evaluation.runner import EvalOptions
        from pretrain.experiments.ablation import SETTINGS, run_ablation

        seed_list = _seed_list(seeds)
        names = list(dict.fromkeys(s.strip() for s in settings.split(",") if s.strip()))
        unknown = [s for s in names if s not in SETTINGS]
        if not names or unknown:
            given = ", ".join(unknown) or "(none given)"
            raise UsageError(f"unknown setting(s) {given}; known: {', '.join(SETTINGS)}")
        split = _split_option(eval_split, "--eval-split")
        probe = None if probe_split == "none" else _split_option(probe_split, "--probe-split")
        device = _device(device)
        _existing(parse_cache, "--parse-cache")
        base = _base_config(config_file, {**overrides, "manifest": manifest, "device": device,
                                          "parse_cache": parse_cache})
        _existing(pairs, "--pairs")
        _existing_folder(ceiling, "--ceiling")
        options = EvalOptions(split=split, probe_split=probe, seed=eval_seed, device=device,
                              pairs_file=None if pairs is None else str(pairs),
                              ceiling=None if ceiling is None else str(ceiling))
        _quiet_transformers()
        with stage_progress(quiet) as progress:
            outcome = run_ablation(
                base, names, seed_list, out, options, time_budget_s=time_budget, progress=progress,
                on_event=lambda line: progress.console.print(f"[bold]ablation[/bold] {line}", highlight=False))
        console = stderr_console()
        print_table(_ablation_table(out / "ablation.json"))
        if outcome.pending:
            console.print(f"{len(outcome.pending)} run(s) still to do (next: {outcome.pending[0]}); "
                          "run the same command again to continue")
        typer.echo(f"wrote {', '.join(map(str, outcome.outputs))}", err=True)
