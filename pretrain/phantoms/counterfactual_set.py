"""Build a folder of counterfactual image–report pairs from a manifest's reports.

For each report: its phantom (image A), then every edit its tags allow (`tag_edits`, at most
`max_additions` added findings per family). The counterfactual image (image B) comes from
`render_edit`, the edited report (text B) from `text_edit`, which may decline an edit its text
cannot carry. An edit is kept only when both halves change, and every edit left out is counted
by family and reason. Images are written atomically to `images/` and `counterfactuals/`, the
pairs file last, so an interrupted run leaves no pairs file that names a missing image.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pretrain.data.manifest import ManifestRow
from pretrain.data.pairs import Pair, write_pairs
from pretrain.phantoms.counterfactual import Edit, counterfactuals
from pretrain.phantoms.phantom import DEFAULT_SIZE, save_png, seed_for
from pretrain.phantoms.phantom_set import IMAGE_FOLDER, image_name

COUNTERFACTUAL_FOLDER = "counterfactuals"

#: Makes report B: (report A, the edit its tags received) → the edited report text, or None when
#: the text cannot say what the edit changed (no mention of the finding, no negated sentence to
#: assert for an added finding, ...). It must change only the finding's own words.
TextEdit = Callable[[ManifestRow, Edit], "str | None"]


@dataclass
class CounterfactualSummary:
    reports: int = 0
    pairs: Counter = field(default_factory=Counter)          # family → pairs written
    declined: Counter = field(default_factory=Counter)       # family → text edit returned None
    unchanged_text: Counter = field(default_factory=Counter)  # family → text edit changed nothing
    unchanged_image: Counter = field(default_factory=Counter)  # family → the image did not change
    failed: list[tuple[str, str]] = field(default_factory=list)  # (report id, error)


def counterfactual_name(report_id: str, family: str, number: int) -> str:
    """The file name of a report's `number`-th counterfactual image of `family` (distinct for
    distinct reports, since `image_name` is)."""
    return f"{image_name(report_id).removesuffix('.png')}.{family}.{number}.png"


def build_counterfactual_set(
    rows: Sequence[ManifestRow], out_dir: str | os.PathLike[str], text_edit: TextEdit, *,
    pairs_file: str = "pairs.jsonl", size: int = DEFAULT_SIZE, seed: int = 0,
    max_additions: int | None = 2, on_done: Callable[[int], None] | None = None,
) -> CounterfactualSummary:
    """Write the pairs of every row into `out_dir` (images, then `out_dir/pairs_file`). Image A is
    the phantom the phantom set draws for the same `size` and `seed`."""
    out_dir = Path(out_dir)
    for folder in (IMAGE_FOLDER, COUNTERFACTUAL_FOLDER):
        (out_dir / folder).mkdir(parents=True, exist_ok=True)
    summary = CounterfactualSummary()
    pairs: list[Pair] = []
    seen: set[str] = set()
    for row in rows:
        summary.reports += 1
        if row.id in seen:      # its images and pair ids would overwrite the first one's
            summary.failed.append((row.id, "duplicate report id"))
            continue
        seen.add(row.id)
        try:
            pairs += _report_pairs(row, out_dir, text_edit, size, seed, max_additions, summary)
        except Exception as err:  # one bad report must not end a run over a whole split
            summary.failed.append((row.id, f"{type(err).__name__}: {err}".splitlines()[0]))
        if on_done:
            on_done(1)
    write_pairs(out_dir / pairs_file, pairs)
    return summary


def _report_pairs(row: ManifestRow, out_dir: Path, text_edit: TextEdit, size: int, seed: int,
                  max_additions: int | None, summary: CounterfactualSummary) -> list[Pair]:
    texts: dict[Edit, str] = {}

    def accept(edit: Edit) -> bool:
        text = text_edit(row, edit)
        if text is None:
            summary.declined[edit.family] += 1
        elif text == row.text:
            summary.unchanged_text[edit.family] += 1
        else:
            texts[edit] = text
        return edit in texts

    made = counterfactuals(row.tags, row.id, seed_for(row.id, seed), size,
                           max_additions=max_additions, accept=accept)
    summary.unchanged_image.update(edit.family for edit in made.hidden)
    image_a = f"{IMAGE_FOLDER}/{image_name(row.id)}"
    pairs = []
    number: Counter = Counter()
    for edit, image in made.made:
        n = number[edit.family]
        number[edit.family] += 1
        image_b = f"{COUNTERFACTUAL_FOLDER}/{counterfactual_name(row.id, edit.family, n)}"
        save_png(image, out_dir / image_b)
        pairs.append(Pair(f"{row.id}:{edit.family}:{n}", image_a, row.text, image_b,
                          texts[edit], edit.family, edit.to_dict(), row.tags, edit.tags, row.id))
        summary.pairs[edit.family] += 1
    if pairs:
        save_png(made.original, out_dir / image_a)
    return pairs
