"""radperturb's perturbation engine: parse once, perturb many.

Importing this package and perturbing `ParsedReport`s needs neither spaCy nor torch; only
`Parser` imports spaCy, when it is made.
"""

from perturb import kinds as _kinds  # noqa: F401  (registers the nine perturbations)
from perturb.apply import PerturbationResult, Replacement, apply, apply_many, render
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
    resolve_kinds,
)

__version__ = "0.1.0"

#: The nine perturbations of the paper, in its order.
PAPER_KINDS = tuple(PERTURBATIONS)


def __getattr__(name: str):  # type: ignore[no-untyped-def]
    """`Parser` and friends load lazily so that importing `perturb` never imports spaCy."""
    if name in {"Parser", "ModelNotFoundError", "resolve_model"}:
        from perturb import parser

        return getattr(parser, name)
    raise AttributeError(f"module 'perturb' has no attribute {name!r}")


__all__ = [
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
    "apply",
    "apply_many",
    "get",
    "load_plugins",
    "register",
    "render",
    "resolve_kinds",
    "resolve_model",
]
