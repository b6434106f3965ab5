"""radperturb's perturbation engine: parse once, perturb many.

Importing this package and perturbing `ParsedReport`s needs neither spaCy nor torch; only
`Parser` imports spaCy, when it is made.
"""

from perturb.kinds import CLINICAL_KINDS, PAPER_KINDS  # registers the built-in kinds
from perturb.apply import apply, apply_many
from perturb.batch.run import Request, apply_batch, apply_requests
from perturb.errors import DataError, RadperturbError, UsageError
from perturb.layout import Layout
from perturb.parsed import ParsedReport
from perturb.registry import (
    PERTURBATIONS,
    Edit,
    PerturbationSpec,
    get,
    kernel_for,
    load_plugins,
    register,
    register_set,
    resolve_kinds,
)
from perturb.rendering import render_tokens
from perturb.result import PerturbationResult, Replacement
from perturb.scopes import SCOPES, PosClass

__version__ = "0.1.0"


def __getattr__(name: str):  # type: ignore[no-untyped-def]
    """`Parser` and friends load lazily so that importing `perturb` never imports spaCy."""
    if name in {"Parser", "ModelNotFoundError", "resolve_model"}:
        from perturb import parser

        return getattr(parser, name)
    raise AttributeError(f"module 'perturb' has no attribute {name!r}")


__all__ = [
    "CLINICAL_KINDS",
    "PAPER_KINDS",
    "PERTURBATIONS",
    "SCOPES",
    "DataError",
    "Edit",
    "Layout",
    "ModelNotFoundError",
    "ParsedReport",
    "Parser",
    "PerturbationResult",
    "PerturbationSpec",
    "PosClass",
    "RadperturbError",
    "Replacement",
    "Request",
    "UsageError",
    "apply",
    "apply_batch",
    "apply_many",
    "apply_requests",
    "get",
    "kernel_for",
    "load_plugins",
    "register",
    "register_set",
    "render_tokens",
    "resolve_kinds",
    "resolve_model",
]
