"""Textual pathology observations (T-PORs): a report's sentences, from the engine's parse.

A unit is one sentence of the `ParsedReport` (its `sent_ids`; no second parse), cut at line breaks
and trimmed of list numbers, that holds a letter. Sentences, not clauses: on the 3,927 Open-I
reports only 0.5 % of sentences hold a second clause with its own subject ("Heart size is normal
and the lungs are clear."), and clauses would need the dependency parser, which the engine does
not load (docs/place.md). Negated
observations ("No pneumothorax.") are kept: they are most of a chest report and say something the
image must agree with. Each unit can be marked by a pluggable `NegationRule`.

The collator side (`tokenize_observations`, in the DataLoader workers) tokenises every unit of a
batch in one call, flat [M, L] — no padded texts are encoded; the model side encodes the M units
in one text-encoder call and `gather_observations` lays them out as [B, T, D] with a mask.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from perturb import ParsedReport
from perturb.clinical.mentions import find_mentions
from perturb.clinical.negation import polarities
from perturb.seeding import key_hash
from pretrain.model.text import tokenize_reports

#: Token budget of one unit: all but 1 of the 22,805 Open-I units fit in it with MiniLM's tokenizer.
MAX_UNIT_TOKENS = 64
_KEY_BITS = (1 << 63) - 1


@dataclass(frozen=True)
class Observation:
    """One observation unit: tokens [start, stop) of the report (sentence `sentence`), its `text`
    as the report renders it, and `negated` (None when no negation rule was given)."""

    start: int
    stop: int
    sentence: int
    text: str
    negated: bool | None = None


#: `negated(report, unit) -> bool`: whether the unit denies its finding. The cue list and scope
#: rule belong to the clinical-edits engine (perturb/clinical/); it plugs in here unchanged.
NegationRule = Callable[[ParsedReport, Observation], bool]


def _pieces(report: ParsedReport) -> list[tuple[int, list[int]]]:
    """(sentence, token positions) of each sentence cut at line breaks, whitespace tokens left out:
    the engine's sentence recogniser runs a finding's last sentence into the "1." that opens the
    next section ("No effusion.\n\n1."), and no observation spans a blank line."""
    pieces: list[tuple[int, list[int]]] = []
    current = None
    for i, (token, pos, sentence) in enumerate(zip(report.tokens, report.pos, report.sent_ids)):
        if sentence != current or (pos == "SPACE" and "\n" in token):
            pieces.append((sentence, []))
            current = sentence
        if pos != "SPACE" and token.strip():
            pieces[-1][1].append(i)
    return [(sentence, positions) for sentence, positions in pieces if positions]


def _opens_unit(tokens: tuple[str, ...], i: int) -> bool:
    """Whether token i can start a unit: not punctuation, and not a list number — "2" followed
    by "." or ")" ("2. Stable ...")."""
    if not any(ch.isalnum() for ch in tokens[i]):
        return False
    return not (tokens[i].isdigit() and i + 1 < len(tokens) and tokens[i + 1] in (".", ")"))


def split_observations(report: ParsedReport, negated: NegationRule | None = None) -> tuple[Observation, ...]:
    """The report's observation units in order: its sentences cut at line breaks, with leading
    punctuation and list numbers dropped, keeping those that hold a letter. A unit's text is its
    span of `report.text` (the rendering the text encoder sees)."""
    tokens, rendered, whitespace = report.tokens, report.layout.tokens, report.whitespace
    units = []
    for sentence, positions in _pieces(report):
        start = next((i for i in positions if _opens_unit(tokens, i)), None)
        if start is None:
            continue
        stop = positions[-1] + 1
        if not any(ch.isalpha() for i in range(start, stop) for ch in tokens[i]):
            continue
        text = "".join(rendered[i] + whitespace[i] for i in range(start, stop)).strip()
        unit = Observation(start, stop, sentence, text)
        if negated is not None:
            unit = Observation(start, stop, sentence, text, bool(negated(report, unit)))
        units.append(unit)
    return tuple(units)


def clinical_negation(report: ParsedReport, unit: Observation) -> bool:
    """The `NegationRule` of the clinical edits: a unit is negated when it names at least one
    finding and the clinical engine's scope rule (`perturb.clinical.negation`) negates every
    finding it names ("No pneumothorax or effusion."); a unit that names none, or asserts one of
    them ("No effusion but a small pneumothorax."), is not. The mentions and their polarities are
    remembered on the report's layout, so the engine's parse is read once per report."""
    said = [p.negated for m, p in zip(find_mentions(report), polarities(report)) if unit.start <= m.head < unit.stop]
    return bool(said) and all(said)


def observation_batch(items: Sequence[dict], reports: Sequence[ParsedReport], tokenizer) -> dict[str, torch.Tensor]:
    """The PLACE terms' batch part (`LossTerm.collate`, run in the DataLoader workers): every
    report's units, marked by `clinical_negation`, tokenised in one call (`tokenize_observations`)."""
    return tokenize_observations(tokenizer, [split_observations(r, negated=clinical_negation) for r in reports])


def observation_key(text: str) -> int:
    """A stable 63-bit id of a unit's text (the same in every worker and rank): two observations
    with one text are never each other's negatives."""
    return key_hash(text) & _KEY_BITS


def tokenize_observations(
    tokenizer, units: Sequence[Sequence[Observation]], max_length: int = MAX_UNIT_TOKENS
) -> dict[str, torch.Tensor]:
    """The units of B reports → one tokenisation of all M of them:

    - `obs_input_ids`, `obs_attention_mask`, `obs_word_ids` [M, L] (as `tokenize_reports`);
    - `obs_slot` [B, T] long: the row of each report's t-th unit in the M rows, -1 for padding
      (T is the most units of any report in the batch);
    - `obs_key` [B, T] long: `observation_key` of each unit's text (0 for padding);
    - `obs_negated` [B, T] bool, only when every unit was marked by a negation rule.
    """
    texts = [unit.text for report_units in units for unit in report_units]
    if not texts:
        raise ValueError("no report of the batch holds an observation (a sentence with a word)")
    width = max(len(report_units) for report_units in units)
    slot = torch.full((len(units), width), -1, dtype=torch.long)
    key = torch.zeros((len(units), width), dtype=torch.long)
    row = 0
    for b, report_units in enumerate(units):
        n = len(report_units)
        slot[b, :n] = torch.arange(row, row + n)
        key[b, :n] = torch.tensor([observation_key(unit.text) for unit in report_units], dtype=torch.long)
        row += n
    encoded = tokenize_reports(tokenizer, texts, max_length)
    out = {f"obs_{name}": tensor for name, tensor in encoded.items()}
    out["obs_slot"], out["obs_key"] = slot, key
    marks = [unit.negated for report_units in units for unit in report_units]
    if all(mark is not None for mark in marks):
        negated = torch.zeros((len(units), width), dtype=torch.bool)
        negated[slot >= 0] = torch.tensor(marks, dtype=torch.bool)
        out["obs_negated"] = negated
    return out


def gather_observations(flat: torch.Tensor, slot: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The M encoded units `flat` [M, D] laid out per report: ([B, T, D] with zeros at padding,
    mask [B, T] True where a unit is real)."""
    mask = slot >= 0
    return flat[slot.clamp_min(0)] * mask[..., None].to(flat.dtype), mask
