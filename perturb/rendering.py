"""The one renderer: words at positions, in the position's case, joined with the positions'
whitespace — for one report or thousands, originals and negatives alike, so that formatting
cannot tell them apart.

`render_texts` writes the text of every report of a pack after an edit; `apply` (a pack of one)
and `apply_batch` both call it. It gathers bytes from one table per pack: for each report, every
(word rendering, whitespace) pair of its `Layout.table`, and each replacement's piece after them.
`render_one` writes one report's text from the same entries, as strings (a pack of one, and a
reference's edit in `apply`, which needs no pack).
`render_tokens` is the per-token view of the same table (`PerturbationResult.tokens`), and
`written_with` the rule by which a replacement rewrites a written word.
"""

from __future__ import annotations

import codecs
from collections.abc import Mapping, Sequence
from itertools import pairwise
from operator import itemgetter
from typing import TYPE_CHECKING

import numpy as np

from perturb.batch.arrays import counting, exclusive_cumsum
from perturb.casing import render_like
from perturb.parsed import ParsedReport

if TYPE_CHECKING:
    from perturb.batch.candidates import Candidates, Substitute
    from perturb.batch.pack import Pack
    from perturb.layout import Layout
    from perturb.result import Replacement


def replacement_form(report: ParsedReport, position: int, word: str) -> str:
    """A replacement word for the token at `position`, before its written word takes the slot's
    case: all caps where the original token was an acronym, else as given."""
    original = report.tokens[position]
    return word.upper() if original.isupper() and len(original) > 1 else word


def written_with(report: ParsedReport, slot: int, edits: Mapping[int, str]) -> str:
    """The written word at `slot` with its tokens replaced as `edits` says (token position → new
    word; "left-sided" with "right" for "left" is "right-sided"), in the slot's case — unless the
    original word keeps a capital of its own, as acronyms do. At free-standing punctuation, the
    new word alone."""
    layout = report.layout
    start, end = layout.span(slot)
    if end - start == 1:
        written = replacement_form(report, slot, edits[slot])
    else:
        written = "".join(
            replacement_form(report, i, edits[i]) if i in edits else report.tokens[i] for i in range(start, end)
        )
    if layout.keeps_case(slot):
        return written
    return render_like(written, layout.capital[slot])


def replaced_words(report: ParsedReport, replacements: Mapping[int, str]) -> dict[int, str]:
    """Each written word that `replacements` (token position → new word) touch, by its slot in
    position order, as `written_with` writes it: a replacement rewrites the written word that
    held the token in the original, whatever moved."""
    head = report.layout.head
    by_slot: dict[int, dict[int, str]] = {}
    for position, word in replacements.items():
        by_slot.setdefault(head[position], {})[position] = word
    return {slot: written_with(report, slot, edits) for slot, edits in sorted(by_slot.items())}


def render_tokens(
    report: ParsedReport, source_index: Sequence[int], replacements: Sequence[Replacement] = ()
) -> tuple[str, ...]:
    """Output tokens: the word from `source_index[i]` in position i's case, and each replaced
    written word as the `Replacement` wrote it."""
    layout = report.layout
    gather = (np.asarray(source_index, dtype=np.intp) + layout.capital_offset).tolist()
    table = layout.table
    tokens = itemgetter(*gather)(table) if len(gather) > 1 else tuple(table[j] for j in gather)
    if replacements:
        edited = list(tokens)
        for position, _, new in replacements:
            edited[position] = new
        tokens = tuple(edited)
    return tokens


def join(tokens: Sequence[str], whitespace: Sequence[str]) -> str:
    """Tokens and their trailing whitespace, as one text."""
    pieces: list[str] = [""] * (2 * len(tokens))
    pieces[::2] = tokens
    pieces[1::2] = whitespace
    return "".join(pieces)


def _entries(layout: Layout) -> tuple[list[str], np.ndarray]:
    """The report's table of entries: every (word rendering, whitespace) pair of its
    `Layout.table`, whitespace kind by whitespace kind, and each position's `shift`: the entry
    for the word from slot `src` at position i is `src + shift[i]` (its case and its whitespace
    are position i's)."""
    whitespace = layout.report.whitespace
    kinds = {w: k for k, w in enumerate(dict.fromkeys(whitespace))}
    entries = [form + space for space in kinds for form in layout.table]
    shift = np.fromiter((kinds[w] for w in whitespace), np.intp, layout.n) * (2 * layout.n) + layout.capital_offset
    return entries, shift


def _report_bytes(layout: Layout) -> tuple[bytes, np.ndarray, np.ndarray]:
    """The report's entries as UTF-8, end to end, each entry's byte length, and the shift."""
    entries, shift = layout.derived(_entries)
    encoded = [entry.encode("utf-8", "surrogatepass") for entry in entries]
    return b"".join(encoded), np.fromiter(map(len, encoded), np.intp, len(encoded)), shift


def _pack_bytes(pack: Pack) -> tuple[bytes, np.ndarray, np.ndarray, np.ndarray]:
    """Every report's entries end to end: the bytes, each entry's start and length, and each
    global position's shift (`source_index + shift` is the entry to write there)."""
    blobs = [layout.derived(_report_bytes) for layout in pack.layouts]
    lengths = np.concatenate([n for _, n, _ in blobs]) if blobs else np.zeros(0, np.int64)
    entries_before = exclusive_cumsum(np.fromiter((len(n) for _, n, _ in blobs), np.int64, len(blobs)))
    shift = (np.concatenate([s for _, _, s in blobs]) if blobs else np.zeros(0, np.int64)) + np.repeat(
        entries_before - pack.starts, pack.sizes
    )
    table = b"".join(blob for blob, _, _ in blobs)
    return table, exclusive_cumsum(lengths), lengths, shift


def _bytes_with(candidates: Candidates, pack: Pack) -> tuple[bytes, np.ndarray, np.ndarray]:
    """The pack's bytes with every candidate's piece appended after the reports' entries."""
    table, entry_start, lengths, _ = pack.derived(_pack_bytes)
    pieces = [piece.encode("utf-8", "surrogatepass") for piece in candidates.pieces]
    added = np.fromiter(map(len, pieces), np.int64, len(pieces))
    return (
        table + b"".join(pieces),
        np.append(entry_start, len(table) + exclusive_cumsum(added)),
        np.append(lengths, added),
    )


def render_texts(pack: Pack, source_index: np.ndarray, substitute: Substitute | None = None) -> list[str]:
    """Every report's text: global position g writes the entry `source_index[g] + shift[g]` —
    the word from that slot in g's case, then g's own whitespace — or, where `substitute`
    chooses a candidate, that candidate's piece. The entries are concatenated as strings for a
    pack of one report (what `apply` renders) and gathered as bytes in numpy for many."""
    if len(pack.layouts) == 1:
        pieces = None
        if substitute is not None and substitute.chosen.any():
            candidates, chosen = substitute
            picked = np.flatnonzero(chosen).tolist()
            pieces = dict(zip(candidates.positions[picked].tolist(), [candidates.pieces[k] for k in picked]))
        return [render_one(pack.layouts[0], source_index, pieces)]
    table, entry_start, lengths, shift = pack.derived(_pack_bytes)
    entries = source_index + shift
    if substitute is not None and substitute.chosen.any():
        candidates, chosen = substitute
        table, entry_start, lengths = candidates.derived(_bytes_with, pack)
        picked = np.flatnonzero(chosen)
        entries[candidates.positions[picked]] = len(lengths) - len(chosen) + picked
    piece_lengths = lengths.take(entries)
    ends = np.zeros(pack.n_tokens + 1, dtype=np.int64)
    np.cumsum(piece_lengths, out=ends[1:])
    index = np.repeat(entry_start.take(entries) - ends[:-1], piece_lengths)
    index += counting(len(index))
    out = np.frombuffer(table, dtype=np.uint8).take(index)
    bounds = ends.take(pack.bound_array()).tolist()
    try:  # ASCII, as reports nearly always are: byte offsets are character offsets, decode once
        text = codecs.ascii_decode(out)[0]
    except UnicodeDecodeError:
        raw = out.tobytes()
        return [raw[a:b].decode("utf-8", "surrogatepass") for a, b in pairwise(bounds)]
    return [text[a:b] for a, b in pairwise(bounds)]


def render_one(layout: Layout, source_index: np.ndarray, pieces: Mapping[int, str] | None = None) -> str:
    """One report's text as `render_texts` writes it, concatenated as strings: position i writes
    the entry `source_index[i] + shift[i]`, or `pieces[i]` (a rewritten word and i's whitespace)
    where given. `apply` renders a reference's edit with it directly, packing nothing."""
    entries, shift = layout.derived(_entries)
    index = (source_index + shift).tolist()
    if not pieces:
        return "".join(itemgetter(*index)(entries)) if index else ""
    written = [entries[i] for i in index]
    for position, piece in pieces.items():
        written[position] = piece
    return "".join(written)
