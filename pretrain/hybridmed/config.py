"""HybridMED's settings in a `TrainConfig`: their checks, the two-stage schedule they make, and
the preset that `--objective hybridmed` and the ablation's `hybridmed` setting apply."""

from __future__ import annotations

from pretrain.hybridmed.schedule import HybridSchedule

#: The settings `--objective hybridmed` applies: the five terms with the defaults of
#: `HybridSchedule` (docs/hybridmed.md), and the report-level global and local terms off (L_CG
#: and L_CL take their places on the sections).
HYBRIDMED: dict[str, object] = {
    "use_global": False, "use_local": False, "use_pert": False,
    "lambda_cg": HybridSchedule.lambda_cg, "lambda_cl": HybridSchedule.lambda_cl,
    "lambda_sum": HybridSchedule.lambda_sum, "lambda_cap": HybridSchedule.lambda_cap,
    "lambda_dis": HybridSchedule.lambda_dis,
}
#: `--objective` name → the settings it applies.
OBJECTIVES: dict[str, dict[str, object]] = {"hybridmed": HYBRIDMED}


def needs_decoder(config) -> bool:
    """A generation term (sum, cap, dis) is on, so the model carries the impression decoder."""
    return config.lambda_sum > 0 or config.lambda_cap > 0 or config.lambda_dis > 0


def hybrid_schedule(config) -> HybridSchedule | None:
    """The run's two stages, or None when no HybridMED term is on."""
    if not config.hybrid:
        return None
    return HybridSchedule(stage1_fraction=config.stage1_fraction, lambda_cg=config.lambda_cg,
                          lambda_cl=config.lambda_cl, lambda_sum=config.lambda_sum, lambda_cap=config.lambda_cap,
                          lambda_dis=config.lambda_dis, distill_temperature=config.distill_temperature)


def check_hybrid(config) -> None:
    """Raise ConfigError for HybridMED settings that cannot work."""
    from pretrain.data.sections import PERTURB_SECTIONS
    from pretrain.train.config import ConfigError

    if config.perturb_section not in PERTURB_SECTIONS:
        raise ConfigError(f"perturb_section must be one of {', '.join(PERTURB_SECTIONS)}, "
                          f"got {config.perturb_section!r}")
    for name in ("decoder_dim", "decoder_layers", "decoder_heads"):
        if getattr(config, name) < 1:
            raise ConfigError(f"{name} must be at least 1, got {getattr(config, name)}")
    if config.decoder_dim % config.decoder_heads:
        raise ConfigError(f"decoder_dim ({config.decoder_dim}) must be a multiple of decoder_heads "
                          f"({config.decoder_heads})")
    try:
        hybrid_schedule(config)
    except ValueError as err:
        raise ConfigError(str(err)) from None
    if config.lambda_dis > 0 and not (config.lambda_sum > 0 and config.lambda_cap > 0):
        raise ConfigError("lambda_dis distils the summarisation branch into captioning: it needs lambda_sum "
                          "(to train the teacher) and lambda_cap on")
    if (config.lambda_cg > 0 or config.lambda_cl > 0) and config.batch_size < 2:
        raise ConfigError("contrastive losses need batch_size >= 2")
