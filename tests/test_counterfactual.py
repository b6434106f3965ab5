"""Counterfactual tag edits and their images: one finding changes, in the way its family says,
and the pixels change only inside that finding's region (same anatomy, noise, other findings).

Radiographic convention: the patient's right is the image's LEFT (low column numbers).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pretrain.phantoms.counterfactual import (
    FAMILIES, counterfactuals, edit_region, edit_streams, render_edit, select_edits, tag_edits,
)
from pretrain.phantoms.phantom import draw_phantom, finding_region, render_phantom

SIZE = 64
SEEDS = (3, 11, 2024)
#: findings that stay put while another one is edited
OTHERS = ["Granuloma/lung/upper lobe/right", "Catheters, Indwelling/right", "Aorta/tortuous",
          "Fractures, Bone/ribs/left"]


def _edit(tags, family, tag_before=None, tag_after=None):
    found = [e for e in tag_edits(tags, key="r") if e.family == family
             and (tag_before is None or e.tag_before == tag_before)
             and (tag_after is None or e.tag_after == tag_after)]
    assert len(found) == 1, found
    return found[0]


def _change(tags, seed, index, streams=None) -> np.ndarray:
    """|film with − film without| the finding of tags[index]."""
    with_it, _ = draw_phantom(tags, seed, SIZE, streams=streams)
    without, _ = draw_phantom(tags, seed, SIZE, streams=streams, skip=index)
    return np.abs(with_it.film() - without.film())


def _centroid(weights: np.ndarray) -> tuple[float, float]:
    rows, cols = np.indices(weights.shape)
    return float((rows * weights).sum() / weights.sum()), float((cols * weights).sum() / weights.sum())


# the renderer's contract with the edits ---------------------------------------------------------
def test_streams_named_by_the_tags_themselves_draw_the_default_phantom():
    tags = ["Pleural Effusion/right/small", "Nodule/lung/upper lobe/left", "Cardiomegaly/mild"]
    assert np.array_equal(render_phantom(tags, 5, SIZE, streams=tags).image,
                          render_phantom(tags, 5, SIZE).image)


def test_skipping_a_finding_draws_the_phantom_without_its_tag():
    tags = ["Pleural Effusion/right/small", "Lung/hyperdistention", "Catheters, Indwelling/left"]
    for index in range(len(tags)):
        skipped, _ = draw_phantom(tags, 9, SIZE, skip=index)
        removed, _ = draw_phantom(tags[:index] + tags[index + 1:], 9, SIZE)
        assert np.array_equal(skipped.film(), removed.film())


def test_a_finding_region_is_empty_for_an_undrawable_tag_and_small_for_a_nodule():
    tags = ["Fractures, Bone/ribs/left", "Nodule/lung/upper lobe/right"]
    assert not finding_region(tags, 1, 0, SIZE).any()
    assert 0 < finding_region(tags, 1, 1, SIZE).mean() < 0.03


# which edits the tags allow ---------------------------------------------------------------------
def test_each_family_edits_one_tag_and_keeps_the_others_verbatim():
    tags = ["Pleural Effusion/right/small", "Opacity/lung/upper lobe/left", "Cardiomegaly/mild",
            "Catheters, Indwelling/right", "No Indexing"]
    edits = tag_edits(tags, key="CXR1")
    assert {e.family for e in edits} == set(FAMILIES)
    for edit in edits:
        if edit.index is None:                       # an addition goes last
            assert edit.tags[:-1] == tuple(tags) and edit.tags[-1] == edit.tag_after
        elif edit.tag_after is None:                 # a removal
            assert edit.tags == tuple(tags[:edit.index] + tags[edit.index + 1:])
        else:
            assert edit.tags[:edit.index] + edit.tags[edit.index + 1:] == \
                tuple(tags[:edit.index] + tags[edit.index + 1:])
            assert edit.tag_before == tags[edit.index] != edit.tag_after
    moved = _edit(tags, "laterality", tag_before="Pleural Effusion/right/small")
    assert (moved.before, moved.after, moved.tag_after) == ("right", "left",
                                                            "Pleural Effusion/left/small")
    graded = _edit(tags, "severity", tag_before="Cardiomegaly/mild")
    assert (graded.before, graded.after, graded.tag_after) == ("mild", "severe",
                                                               "Cardiomegaly/severe")
    zoned = _edit(tags, "location")
    assert zoned.tag_after == "Opacity/lung/lower lobe/left"
    assert (zoned.before, zoned.after) == ("upper lobe", "lower lobe")
    removed = _edit(tags, "device", tag_before="Catheters, Indwelling/right")
    assert (removed.before, removed.after, removed.finding) == ("present", "absent", "catheter")


@pytest.mark.parametrize("tag", [
    "Pleural Effusion",                     # no side named: the renderer draws both
    "Pleural Effusion/bilateral/small",     # two sides
    "Opacity/lingula/left",                 # the lingula exists on the left only
    "Pulmonary Edema/right",                # oedema is drawn on both sides whatever the tag
    "Tube, Inserted/trachea/right",         # an endotracheal tube has no side
])
def test_a_side_the_tags_do_not_decide_is_not_moved(tag):
    assert not [e for e in tag_edits([tag]) if e.family == "laterality"]


@pytest.mark.parametrize("tag", ["Cardiomegaly", "Cardiomegaly/borderline",
                                 "Nodule/lung/large",      # the renderer draws no nodule sizes
                                 "Diaphragm/flattened/severe"])
def test_a_severity_the_tags_do_not_decide_or_the_image_cannot_show_is_not_changed(tag):
    assert not [e for e in tag_edits([tag]) if e.family == "severity"]


@pytest.mark.parametrize("tag", ["Opacity/lung/left", "Opacity/lung/hilum/left",
                                 "Opacity/lung/base/upper lobe/left"])
def test_a_zone_that_is_not_one_upper_or_lower_zone_is_not_moved(tag):
    assert not [e for e in tag_edits([tag]) if e.family == "location"]


def test_a_finding_named_by_two_tags_is_not_edited():
    tags = ["Opacity/lung/base/left", "Consolidation/lung/lower lobe/left"]
    assert not [e for e in tag_edits(tags) if e.finding == "airspace opacity"]


def test_additions_are_absent_kinds_in_an_order_fixed_by_the_key():
    tags = ["normal"]
    first, again = tag_edits(tags, key="CXR7"), tag_edits(tags, key="CXR7")
    assert first == again
    added = [e for e in first if e.index is None]
    assert {e.finding for e in added} >= {"pleural effusion", "pneumothorax", "catheter"}
    assert all(e.tags == (e.tag_after,) for e in added)         # "normal" no longer holds
    assert [e.finding for e in added] != [e.finding for e in tag_edits(tags, key="CXR8")
                                          if e.index is None]
    hyper = [e for e in tag_edits(["Lung/hypoinflation"]) if e.index is None]
    assert "hyperinflation" not in {e.finding for e in hyper}


def test_select_edits_caps_additions_per_family_and_skips_refused_ones():
    edits = tag_edits(["Pleural Effusion/right/small"], key="k")
    chosen = select_edits(edits, 2)
    for family in ("presence", "device"):
        assert sum(e.index is None for e in chosen if e.family == family) == 2
    assert [e for e in chosen if e.index is not None] == [e for e in edits if e.index is not None]
    refused = {e.finding for e in chosen if e.family == "device"}
    again = select_edits(edits, 2, keep=lambda e: e.finding not in refused)
    replacement = [e for e in again if e.family == "device" and e.index is None]
    assert len(replacement) == 2 and not refused & {e.finding for e in replacement}


def test_an_in_place_edit_keeps_the_tags_random_stream():
    tags = ["Pleural Effusion/right/small", "Nodule/lung/upper lobe/left"]
    moved = _edit(tags, "laterality", tag_before=tags[0])
    assert edit_streams(tags, moved) == [tags[0], tags[1]]
    assert edit_streams(tags, _edit(tags, "presence", tag_before=tags[0])) is None


# the counterfactual image -----------------------------------------------------------------------
CASES = [  # (family, tags, edited tag before, edited tag after)
    ("laterality", ["Pleural Effusion/right/moderate"], "Pleural Effusion/right/moderate", None),
    ("laterality", ["Opacity/lung/base/left"], "Opacity/lung/base/left", None),
    ("laterality", ["Diaphragm/left/elevated"], "Diaphragm/left/elevated", None),
    ("laterality", ["Implanted Medical Device/left"], "Implanted Medical Device/left", None),
    ("presence", ["Pneumothorax/left/large"], "Pneumothorax/left/large", None),
    ("presence", ["Nodule/lung/lower lobe/left"], "Nodule/lung/lower lobe/left", None),
    ("presence", ["Cardiomegaly/mild"], "Cardiomegaly/mild", None),
    ("presence", ["normal"], None, "Pleural Effusion/right/large"),
    ("presence", ["normal"], None, "Lung/hyperdistention/severe"),
    ("severity", ["Pleural Effusion/left/small"], "Pleural Effusion/left/small", None),
    ("severity", ["Cardiomegaly/mild"], "Cardiomegaly/mild", None),
    ("severity", ["Pulmonary Atelectasis/base/right/mild"], "Pulmonary Atelectasis/base/right/mild",
     None),
    ("location", ["Opacity/lung/upper lobe/right"], "Opacity/lung/upper lobe/right", None),
    ("location", ["Calcified Granuloma/lung/base/left"], "Calcified Granuloma/lung/base/left", None),
    ("device", ["Surgical Instruments/mediastinum"], "Surgical Instruments/mediastinum", None),
    ("device", ["normal"], None, "Tube, Inserted/trachea"),
]


@pytest.mark.parametrize("family, tags, before, after", CASES)
def test_the_pixel_difference_is_confined_to_the_edited_findings_region(family, tags, before,
                                                                        after):
    tags = tags + OTHERS if tags != ["normal"] else OTHERS
    edit = _edit(tags, family, tag_before=before, tag_after=after)
    for seed in SEEDS:
        original = render_phantom(tags, seed, SIZE).image
        counterfactual = render_edit(tags, edit, seed, SIZE)
        region = edit_region(tags, edit, seed, SIZE)
        differs = original != counterfactual
        assert differs.any()
        assert not (differs & ~region).any()
        assert region.mean() < 0.6                      # a finding, not the whole film


def _mid(image_width: int = SIZE) -> float:
    return (image_width - 1) / 2


@pytest.mark.parametrize("tags", [["Pleural Effusion/right/moderate"], ["Opacity/lung/base/right"],
                                  ["Nodule/lung/upper lobe/right"],
                                  ["Catheters, Indwelling/right"]])
def test_a_laterality_edit_moves_the_finding_to_the_other_side_of_the_image(tags):
    edit = _edit(tags + OTHERS[2:], "laterality", tag_before=tags[0])
    for seed in SEEDS:
        before = _change(edit_tags := list(tags + OTHERS[2:]), seed, 0)
        after = _change(list(edit.tags), seed, 0, edit_streams(edit_tags, edit))
        assert _centroid(before)[1] < _mid() < _centroid(after)[1]   # patient right = image left


@pytest.mark.parametrize("tag", ["Opacity/lung/upper lobe/right", "Nodule/lung/upper lobe/left",
                                 "Pulmonary Atelectasis/apex/left"])
def test_a_location_edit_moves_the_finding_from_the_upper_to_the_lower_zone(tag):
    edit = _edit([tag], "location")
    for seed in SEEDS:
        upper = _centroid(_change([tag], seed, 0))[0]
        lower = _centroid(_change(list(edit.tags), seed, 0, edit_streams([tag], edit)))[0]
        assert lower > upper + SIZE * 0.1


@pytest.mark.parametrize("tag", ["Pleural Effusion/right/small", "Cardiomegaly/mild",
                                 "Pneumothorax/left/small", "Pulmonary Atelectasis/base/left/mild",
                                 "Hernia, Hiatal/small", "Thoracic Vertebrae/degenerative/mild"])
def test_a_severity_edit_to_the_greater_severity_changes_more_of_the_film(tag):
    edit = _edit([tag], "severity")
    assert edit.after in ("severe", "large")
    for seed in SEEDS:
        milder = _change([tag], seed, 0).sum()
        worse = _change(list(edit.tags), seed, 0, edit_streams([tag], edit)).sum()
        assert worse > 1.3 * milder


TAG_POOL = ["Pleural Effusion/right/small", "Pleural Effusion/left", "Cardiomegaly/moderate",
            "Opacity/lung/base/left", "Opacity/lung/upper lobe/right", "Nodule/lung/right",
            "Calcified Granuloma/lung/lower lobe/left", "Pulmonary Atelectasis/base/right/mild",
            "Pneumothorax/right/small", "Lung/hypoinflation", "Diaphragm/right/elevated",
            "Catheters, Indwelling/left", "Implanted Medical Device/left",
            "Surgical Instruments/abdomen/right", "Pulmonary Edema/mild", "Aorta/tortuous",
            "Scoliosis/thoracic vertebrae/left/mild", "Spine/degenerative", "normal",
            "No Indexing"]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tags=st.lists(st.sampled_from(TAG_POOL), min_size=1, max_size=5),
       seed=st.integers(0, 2 ** 32 - 1))
def test_every_edit_changes_pixels_only_inside_its_region(tags, seed):
    made = counterfactuals(tags, "k", seed, 32, max_additions=1)
    for edit, image in made.made:
        differs = made.original != image
        assert differs.any() and not (differs & ~edit_region(tags, edit, seed, 32)).any()
    for edit in made.hidden:
        assert np.array_equal(render_edit(tags, edit, seed, 32), made.original)


def test_a_moved_nodule_keeps_its_place_mirrored_because_it_keeps_its_stream():
    tags = ["Nodule/lung/right"]                 # no zone: its place is drawn from its stream
    edit = _edit(tags, "laterality")
    for seed in SEEDS:
        row, col = _centroid(_change(tags, seed, 0))
        moved_row, moved_col = _centroid(_change(list(edit.tags), seed, 0, edit_streams(tags, edit)))
        assert abs(moved_row - row) < 3 and abs((moved_col - _mid()) + (col - _mid())) < 4


def test_the_counterfactual_gallery_has_one_row_per_family(tmp_path):
    from PIL import Image

    from pretrain.phantoms.gallery import COUNTERFACTUAL_EXAMPLES, render_counterfactual_gallery

    assert [family for family, _ in COUNTERFACTUAL_EXAMPLES] == list(FAMILIES)
    assert render_counterfactual_gallery(tmp_path / "g.png", tile=48) == len(FAMILIES)
    with Image.open(tmp_path / "g.png") as image:
        assert image.width == 3 * 48 and image.height > len(FAMILIES) * 48
