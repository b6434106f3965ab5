"""The paper's ablation: its four loss settings (and ours with the clinical edits) trained and
evaluated on the same data, steps and seeds, summarised as mean ± std over seeds.

Runs are resumable one (setting, seed) at a time, because on a shared GPU the ablation is run in
short calls: a finished run (its result JSON exists) is skipped, a trained but unevaluated one is
only evaluated, and an interrupted one resumes from its last checkpoint. SIGTERM (or the time
budget running out) lets the current training save a checkpoint and stops the ablation
cleanly; the summary is rewritten after every finished run, so partial tables are never lost.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from perturb import CLINICAL_KINDS
from perturb.errors import UsageError
from pretrain.evaluation.io import write_json, write_text
from pretrain.evaluation.runner import EvalOptions, evaluate_loaded
from pretrain.evaluation.summary import HEADLINE_METRICS, headline, markdown_table, mean_std
from pretrain.hybridmed.config import HYBRIDMED
from pretrain.progress import Progress, silent
from pretrain.train.stop import stop_requests

#: The clinical edit that `ours_clinical` never trains on, so that its evaluation shows whether a
#: gain reaches an edit family the model has not seen as negatives.
HELD_OUT_KIND = "swap_location"
#: Setting → which loss terms are on (global InfoNCE, GLoRIA local, perturbation; HybridMED's
#: five) and, for `ours_clinical`, which kinds its negatives come from (the paper's nine and the
#: clinical edits but the held-out one; every other setting draws from the base config's kinds).
SETTINGS: dict[str, dict[str, object]] = {
    "clip": {"use_global": True, "use_local": False, "use_pert": False},
    "gloria": {"use_global": True, "use_local": True, "use_pert": False},
    "ours_no_local": {"use_global": True, "use_local": False, "use_pert": True},
    "ours": {"use_global": True, "use_local": True, "use_pert": True},
    "ours_clinical": {"use_global": True, "use_local": True, "use_pert": True,
                      "kinds": ["paper", *(k for k in CLINICAL_KINDS if k != HELD_OUT_KIND)]},
    "hybridmed": HYBRIDMED,
}
#: The paper's four, which `benchmark ablation` runs unless told otherwise.
PAPER_SETTINGS = ("clip", "gloria", "ours_no_local", "ours")
#: PLACE (docs/place.md): GLoRIA's two terms and PLACE's two; PLACE's terms are off in every other setting.
PLACE_SWITCHES = {"use_pcma": False, "use_cce": False}
SETTINGS = {name: {**PLACE_SWITCHES, **switches} for name, switches in SETTINGS.items()}
SETTINGS["place"] = {"use_global": True, "use_local": True, "use_pert": False, "use_pcma": True, "use_cce": True}
#: Settings that may differ between calls of one ablation without changing its results.
MAY_DIFFER = ("seed", "out_dir", "device", "num_workers", "save_every", "log_every",
              "keep_checkpoints", "use_global", "use_local", "use_pert", "parse_cache", *PLACE_SWITCHES)
PLAN_FILE = "ablation_plan.json"


class AblationError(UsageError):
    """The ablation cannot go on as asked; one line for the user."""


@dataclass(frozen=True)
class AblationOutcome:
    """Runs finished (now or before), runs still to do, and the summary files written."""

    finished: list[str]
    pending: list[str]
    outputs: list[Path]


def run_name(setting: str, seed: int) -> str:
    return f"{setting}-seed{seed}"


def _plan(base, settings: Sequence[str], eval_options: EvalOptions) -> dict:
    config = {k: v for k, v in asdict(base).items() if k not in MAY_DIFFER}
    local = ("device", "batch_size", "parse_cache")
    options = {k: v for k, v in asdict(eval_options).items() if k not in local}
    options["kinds"] = list(options["kinds"])
    return {"train": config, "evaluation": options, "settings": list(settings)}


def check_plan(out_dir: Path, plan: dict) -> None:
    """Record the plan on the first call; refuse a later call whose training or evaluation
    settings differ (its runs would not be comparable with the finished ones)."""
    path = out_dir / PLAN_FILE
    if not path.is_file():
        write_json(path, plan)
        return
    saved = json.loads(path.read_text(encoding="utf-8"))
    for part in ("train", "evaluation"):
        for key in sorted(set(saved[part]) | set(plan[part])):
            before, now = saved[part].get(key), plan[part].get(key)
            if before != now:
                raise AblationError(f"{out_dir} holds an ablation with {part} setting {key}={before!r} "
                                    f"(now {now!r}); use another --out or the same settings")
    if saved["settings"] != plan["settings"]:
        write_json(path, {**saved, "settings": list(dict.fromkeys(saved["settings"] + plan["settings"]))})


def _shared_parse_cache(base, out_dir: Path, progress: Progress) -> Path:
    """One parse of every manifest report, shared by all runs and evaluations."""
    from perturb.io.parse_cache import ensure_parse_cache
    from pretrain.data import read_manifest

    if base.parse_cache:
        return Path(base.parse_cache)
    records = [(row.id, row.text) for row in read_manifest(base.manifest, rejects=[])]  # as the dataset reads it
    unique = len(set(records))
    return ensure_parse_cache(records, out_dir / "parses.jsonl.gz",
                              on_parsed=lambda n: progress("parsing reports", n, unique))


class TimeBudget:
    """The ablation's stop request (`stop_requests`: SIGTERM or SIGHUP), also set once
    `budget_s` seconds have passed. Each training gets the same request, so a stop that comes
    while a run is being set up still reaches its training loop."""

    def __init__(self, budget_s: float | None) -> None:
        self.budget_s = budget_s
        self._requests = stop_requests()
        self._timer: threading.Timer | None = None

    def __enter__(self) -> "TimeBudget":
        self.event = self._requests.__enter__()
        if self.budget_s is not None:
            self._timer = threading.Timer(self.budget_s, self.event.request)
            self._timer.daemon = True
            self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._requests.__exit__(*exc)


def write_summary(out_dir: Path, settings: Sequence[str], seeds: Sequence[int]) -> list[Path]:
    """ablation.json, ablation.md and ablation.png from the result files present now."""
    from pretrain.evaluation.plots import plot_ablation

    runs: dict[str, list[dict[str, float]]] = {s: [] for s in settings}
    done: dict[str, list[int]] = {s: [] for s in settings}
    per_run: dict[str, dict[str, float]] = {}
    for setting in settings:
        for seed in seeds:
            path = out_dir / "results" / f"{run_name(setting, seed)}.json"
            if path.is_file():
                metrics = headline(json.loads(path.read_text(encoding="utf-8")))
                runs[setting].append(metrics)
                done[setting].append(seed)
                per_run[run_name(setting, seed)] = metrics
    summary = mean_std(runs)
    metrics = list(HEADLINE_METRICS)
    outputs = [
        write_json(out_dir / "ablation.json", {"settings": list(settings), "seeds": list(seeds),
                                                "done": done, "metrics": metrics, "summary": summary,
                                                "runs": per_run}),
        write_text(out_dir / "ablation.md", markdown_table(summary, done)),
    ]
    if per_run:
        title = f"Ablation: mean ± std over seeds {','.join(map(str, seeds))}"
        outputs.append(plot_ablation(summary, metrics, out_dir / "ablation.png", title=title))
    return outputs


def run_ablation(
    base,
    settings: Sequence[str],
    seeds: Sequence[int],
    out_dir: str | Path,
    eval_options: EvalOptions = EvalOptions(),
    *,
    time_budget_s: float | None = None,
    progress: Progress = silent,
    on_event: Callable[[str], None] = lambda message: None,
) -> AblationOutcome:
    """Train and evaluate every (setting, seed) of `base` (a `TrainConfig`) not finished yet,
    seed by seed so that an early stop leaves comparable settings. `on_event` gets one line per
    started, skipped or finished run; parsing, training and evaluation report to `progress`."""
    from pretrain.train.checkpoint import HEADS_FILE, list_checkpoints, load_for_eval
    from pretrain.train.loop import TrainingStopped, train

    unknown = [s for s in settings if s not in SETTINGS]
    if unknown:
        raise AblationError(f"unknown setting(s) {', '.join(unknown)}; known: {', '.join(SETTINGS)}")
    out_dir = Path(out_dir)
    check_plan(out_dir, _plan(base, settings, eval_options))
    parse_cache = _shared_parse_cache(base, out_dir, progress)
    base = base.with_overrides({"parse_cache": parse_cache})
    eval_options = replace(eval_options, parse_cache=str(parse_cache))
    order = [(setting, seed) for seed in seeds for setting in settings]
    finished: list[str] = []
    with TimeBudget(time_budget_s) as stop:
        for setting, seed in order:
            name = run_name(setting, seed)
            result_path = out_dir / "results" / f"{name}.json"
            if result_path.is_file():
                finished.append(name)
                on_event(f"{name}: done before, skipped")
                continue
            if stop.event.is_set():
                break
            run_dir = out_dir / "runs" / name
            config = base.with_overrides({"seed": seed, "out_dir": run_dir, **SETTINGS[setting]})
            started = time.monotonic()
            if not (run_dir / "final" / HEADS_FILE).is_file():
                resume = bool(list_checkpoints(run_dir))
                on_event(f"{name}: {'resuming' if resume else 'training'}")
                try:
                    train(config, resume=resume, progress=progress, stop=stop.event)
                except TrainingStopped as err:
                    on_event(f"{name}: stopped after step {err.step}; its checkpoint is saved and "
                             "the next call resumes it")
                    break
            on_event(f"{name}: evaluating")
            model, tokenizer, saved = load_for_eval(run_dir)
            model.to(eval_options.device)
            result = evaluate_loaded(model, tokenizer, saved, base.manifest, eval_options, progress)
            result["run"] = {"setting": setting, "seed": seed, "run_dir": str(run_dir),
                             "seconds": round(time.monotonic() - started, 1)}
            write_json(result_path, result)
            finished.append(name)
            on_event(f"{name}: finished in {time.monotonic() - started:.0f}s")
            write_summary(out_dir, settings, seeds)
    outputs = write_summary(out_dir, settings, seeds)
    pending = [run_name(s, k) for s, k in order if run_name(s, k) not in finished]
    return AblationOutcome(finished, pending, outputs)
