"""radperturb's perturbation engine: parse once, perturb many.

Importing this package and perturbing `ParsedReport`s needs neither spaCy nor torch; only
`Parser` imports spaCy, when it is made.
"""

from perturb import kinds as _kinds  # noqa: F401  (registers the nine perturbations)
from perturb.apply import apply, apply_many
from perturb.batch import Request, apply_batch, apply_requests
from perturb.layout import SCOPES, Layout
from perturb.parsed import ParsedReport
from perturb.registry import (
    PERTURBATIONS,
    Edit,
    PerturbationSpec,
    PosClass,
    get,
    load_plugins,
    register,
    register_set,
    resolve_kinds,
)
from perturb.rendering import render
from perturb.result import PerturbationResult, Replacement

__version__ = "0.1.0"

#: The nine perturbations of the paper, in its order.
PAPER_KINDS = tuple(PERTURBATIONS)
register_set("paper", PAPER_KINDS)

# The four clinical edits register after the paper's nine (`perturb.clinical`).
from perturb.clinical import CLINICAL_KINDS  # noqa: E402


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
    "Edit",
    "Layout",
    "ModelNotFoundError",
    "ParsedReport",
    "Parser",
    "PerturbationResult",
    "PerturbationSpec",
    "PosClass",
    "Replacement",
    "Request",
    "apply",
    "apply_batch",
    "apply_many",
    "apply_requests",
    "get",
    "load_plugins",
    "register",
    "register_set",
    "render",
    "resolve_kinds",
    "resolve_model",
]
