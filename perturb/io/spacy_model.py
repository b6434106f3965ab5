"""The spaCy model of a run: its identity without loading it, and the parser, loaded once.

A corpus run whose parses all come from a parse cache never needs spaCy; it still has to know
which model the cache must match and what to record as provenance, so the identity is read from
the model's `meta.json`, the file spaCy itself reads it from.
"""

from __future__ import annotations

import importlib.util
import json
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from perturb.parser import ModelNotFoundError, resolve_model

if TYPE_CHECKING:
    from perturb.parser import Parser


class ModelIdentity(NamedTuple):
    """The names `Parser` stamps on every `ParsedReport` (`.model`, `.model_version`)."""

    name: str
    version: str


def model_identity(model: str | None) -> ModelIdentity:
    """Name and version of `model` (or of the default model), as `Parser` reports them."""
    resolved = resolve_model(model)
    folder = Path(resolved)
    if not folder.exists():
        spec = importlib.util.find_spec(resolved)
        if spec is None or not spec.submodule_search_locations:
            raise ModelNotFoundError(f"spaCy model {resolved!r} is not an installed package")
        folder = Path(next(iter(spec.submodule_search_locations)))
    try:
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ModelNotFoundError(f"spaCy model {resolved!r} has no readable meta.json ({err})") from None
    return ModelIdentity(
        f"{meta.get('lang', 'xx')}_{meta.get('name', 'unknown')}", str(meta.get("version", ""))
    )


@cache
def load_parser(model: str | None) -> Parser:
    """One `Parser` per model and process: loading a pipeline costs seconds."""
    from perturb.parser import Parser

    return Parser(model)
