"""The two HybridMED stages as data: which terms are on, with which weight, and which parameters
train at a given step — one answer for the trainer, the optimizer and resume alike.

Stage 1 (summarisation) trains the decoder's shared layers and its summarisation branch on
L_Sum, findings → impression, with the encoders frozen. Stage 2 trains the encoders, the
contrastive heads and the captioning branch on L_CG, L_CL, L_Cap and L_Dis, while the teacher —
every parameter the summarisation branch uses, the shared layers included — is frozen: no
gradient, so no optimizer state. The parameter groups are named from the model's parameter
names: `image_encoder.*`, `text_encoder.*`, `decoder.*` (split by `parameter_branch`), and
everything else (projection heads, temperatures) is `heads`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import nn

from pretrain.hybridmed.decoder import parameter_branch

GROUPS = ("image_encoder", "text_encoder", "heads", "decoder_shared", "caption", "summary")
#: The summarisation branch as a whole: what stage 2 freezes as the distillation teacher.
TEACHER_GROUPS = frozenset({"decoder_shared", "summary"})
STAGE1_TRAINABLE = frozenset({"decoder_shared", "summary"})
STAGE2_TRAINABLE = frozenset({"image_encoder", "text_encoder", "heads", "caption"})


def parameter_group(name: str) -> str:
    """The group of a parameter of the unwrapped model, by its name (a DDP or torch.compile
    wrapper's prefix would put every parameter in `heads`, so it is refused)."""
    if name.startswith(("module.", "_orig_mod.")):
        raise ValueError(f"{name!r}: name parameters on the unwrapped model, not its DDP/compile wrapper")
    for prefix in ("image_encoder", "text_encoder"):
        if name.startswith(prefix + "."):
            return prefix
    if name.startswith("decoder."):
        branch = parameter_branch(name[len("decoder.") :])
        return "decoder_shared" if branch == "shared" else branch
    return "heads"


@dataclass(frozen=True)
class Stage:
    """One stage: steps [start, stop), the active terms with their weights, the groups that
    train (all others are frozen)."""

    index: int
    name: str
    start: int
    stop: int
    weights: dict[str, float] = field(hash=False)
    trainable: frozenset[str]

    @property
    def teacher_frozen(self) -> bool:
        return not (self.trainable & TEACHER_GROUPS)


@dataclass(frozen=True)
class HybridSchedule:
    """The numbers a config holds. `stage1_fraction` of the run's steps is summarisation
    (a fraction, so that a run's length and its stages scale together; resume recomputes the
    boundary from the same total). A λ of 0 switches its term off; with λ_Sum = 0 there is no
    stage 1. Defaults and their reasons:
    docs/hybridmed.md."""

    stage1_fraction: float = 0.2
    lambda_cg: float = 1.0
    lambda_cl: float = 0.1
    lambda_sum: float = 1.0
    lambda_cap: float = 1.0
    lambda_dis: float = 1.0
    distill_temperature: float = 2.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.stage1_fraction < 1.0:
            raise ValueError(f"stage1_fraction must be in [0, 1), got {self.stage1_fraction}")
        if self.distill_temperature <= 0:
            raise ValueError(f"distill_temperature must be > 0, got {self.distill_temperature}")
        negative = [n for n in ("cg", "cl", "sum", "cap", "dis") if getattr(self, f"lambda_{n}") < 0]
        if negative:
            raise ValueError(f"loss weights must be ≥ 0: lambda_{', lambda_'.join(negative)}")

    def _weights(self, terms: tuple[str, ...]) -> dict[str, float]:
        return {t: getattr(self, f"lambda_{t}") for t in terms if getattr(self, f"lambda_{t}") > 0}

    def stages(self, total_steps: int) -> tuple[Stage, Stage]:
        """Both stages of a run of `total_steps` optimizer steps."""
        if total_steps < 1:
            raise ValueError(f"total_steps must be ≥ 1, got {total_steps}")
        # no summarisation term: no stage 1 (it would train nothing)
        boundary = round(self.stage1_fraction * total_steps) if self.lambda_sum > 0 else 0
        return (
            Stage(1, "summarisation", 0, boundary, self._weights(("sum",)), STAGE1_TRAINABLE),
            Stage(2, "joint", boundary, total_steps, self._weights(("cg", "cl", "cap", "dis")), STAGE2_TRAINABLE),
        )

    def stage_at(self, step: int, total_steps: int) -> Stage:
        """The stage that optimizer step `step` (0-based) belongs to."""
        first, second = self.stages(total_steps)
        return first if step < first.stop else second


def apply_stage(model: nn.Module, stage: Stage) -> list[nn.Parameter]:
    """Set `requires_grad` by the stage's groups and drop the frozen parameters' gradients;
    return the trainable parameters. Build the optimizer (and wrap DDP) after this call: a
    frozen parameter then has no gradient, no optimizer state and no DDP bucket."""
    trainable = []
    for name, param in model.named_parameters():
        on = parameter_group(name) in stage.trainable
        param.requires_grad_(on)
        if on:
            trainable.append(param)
        else:
            param.grad = None
    return trainable


def enter_stage(objective, stage: Stage) -> None:
    """Switch an `Objective` (pretrain.train.objective) to `stage`: its parameters frozen by
    group (`apply_stage`), then only the stage's terms summed — in stage 2 beside them the
    report-level terms (global, local, pert) that the config turns on — and the contrastive
    heads trained only where an active term uses them. Rebuild the optimizer, LR schedule and
    DDP wrapper after this call."""
    from pretrain.hybridmed.sections import TERM_SECTIONS

    apply_stage(objective.model, stage)
    others = [name for name in objective.terms if name not in TERM_SECTIONS] if stage.index == 2 else []
    objective.activate([*stage.weights, *others])
