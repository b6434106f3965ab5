"""Phantom renderer: determinism, and each drawable finding changes the image where it should.

Findings are drawn on separate random streams from the anatomy and the noise, so an image with a
finding minus the same seed's image without it is exactly that finding's effect. Regions are
fractions of the image; radiographic convention: the patient's right is the image's LEFT.
"""

from __future__ import annotations

import numpy as np
import pytest

from pretrain.data.tags import parse_tag
from pretrain.phantoms.findings import DRAWABLE_FINDINGS, drawable
from pretrain.phantoms.phantom import render_phantom, save_png, seed_for

SIZE = 96
SEEDS = (1, 2, 3)

# (x0, x1, y0, y1) as fractions of the image
IMAGE_LEFT_BASE = (0.15, 0.42, 0.55, 0.7)      # patient's right lower zone
IMAGE_RIGHT_BASE = (0.58, 0.85, 0.55, 0.7)     # patient's left lower zone
IMAGE_LEFT_UPPER = (0.15, 0.42, 0.2, 0.4)
IMAGE_RIGHT_UPPER = (0.58, 0.85, 0.2, 0.4)


def _box(image: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    x0, x1, y0, y1 = (round(v * image.shape[0]) for v in box)
    return image[y0:y1, x0:x1]


def effect(tags: list[str], box, seeds=SEEDS, baseline: list[str] | None = None) -> float:
    """Mean brightness change (0–255) inside `box` caused by `tags`, averaged over seeds."""
    changes = []
    for seed in seeds:
        with_tags = render_phantom(tags, seed, SIZE).image.astype(float)
        without = render_phantom(baseline or [], seed, SIZE).image.astype(float)
        changes.append((_box(with_tags, box) - _box(without, box)).mean())
    return float(np.mean(changes))


def test_same_seed_gives_same_bytes(tmp_path):
    tags = ["Pleural Effusion/left/small", "Cardiomegaly/mild", "Nodule/lung/upper lobe/right"]
    first, second = render_phantom(tags, 42, SIZE), render_phantom(tags, 42, SIZE)
    assert first.image.dtype == np.uint8 and first.image.shape == (SIZE, SIZE)
    save_png(first.image, tmp_path / "a.png")
    save_png(second.image, tmp_path / "b.png")
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()


def test_different_seeds_give_different_chests():
    a, b = render_phantom(["normal"], 1, SIZE).image, render_phantom(["normal"], 2, SIZE).image
    assert np.abs(a.astype(int) - b.astype(int)).mean() > 2


def test_seed_for_is_a_fixed_hash_of_the_id():
    assert seed_for("CXR1") == 0xEBE2608BB27BBAE9      # BLAKE2b: same in every process
    assert seed_for("CXR1") != seed_for("CXR2")
    assert seed_for("CXR1", seed=1) != seed_for("CXR1", seed=0)


def test_tiny_sizes_are_refused():
    with pytest.raises(ValueError, match="at least 16"):
        render_phantom(["normal"], 0, 8)


def test_normal_and_no_tags_draw_the_same_chest():
    assert np.array_equal(render_phantom(["normal"], 5, SIZE).image,
                          render_phantom([], 5, SIZE).image)


def test_tags_it_cannot_draw_are_ignored_and_returned():
    phantom = render_phantom(["No Indexing", "Fractures, Bone/ribs/left/healed", "normal"], 5,
                             SIZE)
    assert phantom.ignored == ("No Indexing", "Fractures, Bone/ribs/left/healed")
    assert np.array_equal(phantom.image, render_phantom([], 5, SIZE).image)


@pytest.mark.parametrize("finding", sorted(name for name in DRAWABLE_FINDINGS if name != "normal"))
def test_every_gallery_example_changes_the_image(finding):
    example = DRAWABLE_FINDINGS[finding].example
    assert drawable(example)
    a = render_phantom([example], 3, SIZE).image.astype(int)
    b = render_phantom([], 3, SIZE).image.astype(int)
    assert np.abs(a - b).sum() > 0, f"{example} draws nothing"


@pytest.mark.parametrize("side, near, far", [("right", IMAGE_LEFT_BASE, IMAGE_RIGHT_BASE),
                                              ("left", IMAGE_RIGHT_BASE, IMAGE_LEFT_BASE)])
def test_effusion_brightens_its_own_lower_zone_on_the_mirrored_image_side(side, near, far):
    tags = [f"Pleural Effusion/{side}/moderate"]
    assert effect(tags, near) > 8
    assert abs(effect(tags, far)) < 1


def test_larger_effusion_rises_higher():
    mid_zone = (0.15, 0.42, 0.45, 0.6)
    assert effect(["Pleural Effusion/right/large"], mid_zone) > effect(
        ["Pleural Effusion/right/small"], mid_zone) + 5


def test_blunted_costophrenic_angle_is_a_small_effusion():
    angle = (0.12, 0.25, 0.66, 0.76)
    assert effect(["Costophrenic Angle/right/blunted"], angle) > 5


@pytest.mark.parametrize("heading", ["Opacity", "Consolidation", "Pneumonia", "Infiltrate",
                                     "Airspace Disease", "Density"])
def test_airspace_opacity_brightens_the_named_lobe(heading):
    tags = [f"{heading}/lung/lower lobe/right"]
    lower_right = (0.15, 0.42, 0.45, 0.65)
    assert effect(tags, lower_right) > 8
    assert abs(effect(tags, (0.58, 0.85, 0.2, 0.7))) < 0.5


def test_upper_lobe_opacity_stays_in_the_upper_zone():
    tags = ["Opacity/lung/upper lobe/left"]
    assert effect(tags, IMAGE_RIGHT_UPPER) > 3 * max(effect(tags, IMAGE_RIGHT_BASE), 0.5)


def test_cardiomegaly_widens_the_heart_more_when_severe():
    beside_heart = (0.62, 0.8, 0.5, 0.66)           # patient's left heart border
    mild = effect(["Cardiomegaly/mild"], beside_heart)
    severe = effect(["Cardiomegaly/severe"], beside_heart)
    assert 3 < mild < severe
    assert effect(["Cardiac Shadow/enlarged"], beside_heart) > 3


def test_atelectasis_is_a_band_at_the_named_base():
    tags = ["Pulmonary Atelectasis/base/left"]
    assert effect(tags, (0.55, 0.85, 0.5, 0.72)) > 2
    assert abs(effect(tags, (0.15, 0.45, 0.2, 0.72))) < 0.3


def _peak_change(tags: list[str], seed: int = 4) -> np.ndarray:
    return render_phantom(tags, seed, 128).image.astype(int) - render_phantom([], seed, 128).image


def test_calcified_granuloma_is_denser_and_a_mass_larger_than_a_nodule():
    nodule = _peak_change(["Nodule/lung/upper lobe/right"])
    calcified = _peak_change(["Calcified Granuloma/lung/upper lobe/right"])
    mass = _peak_change(["Mass/lung/upper lobe/right"])
    assert calcified.max() > nodule.max() > 20
    assert (mass > 20).sum() > 4 * (nodule > 20).sum()
    rows, cols = np.nonzero(nodule > 20)
    assert cols.mean() < 64 and rows.mean() < 70        # image-left, upper half


def test_pneumothorax_darkens_the_apex_of_its_side():
    tags = ["Pneumothorax/left/large"]
    assert effect(tags, (0.6, 0.85, 0.15, 0.45)) < -3
    assert abs(effect(tags, (0.15, 0.42, 0.15, 0.6))) < 0.3


def test_pneumothorax_hides_lung_markings_in_the_rim():
    def markings(tags):
        from pretrain.phantoms.anatomy import sample_anatomy
        from pretrain.phantoms.canvas import Canvas
        from pretrain.phantoms.findings import plan_findings
        from pretrain.phantoms.thorax import draw_thorax

        canvas = Canvas(sample_anatomy(np.random.default_rng(1)), SIZE, np.random.default_rng(2))
        draw_thorax(canvas)
        for finding in plan_findings(tags, 0).findings:
            finding.draw(canvas)
        return (canvas.markings * canvas.markings_visible * canvas.lung["left"]).sum()

    assert markings(["Pneumothorax/left/large"]) < 0.9 * markings([])


@pytest.mark.parametrize("tag, sign", [("Lung/hyperdistention/severe", -1),
                                       ("Emphysema", -1),
                                       ("Lung/hypoinflation/severe", 1)])
def test_inflation_moves_the_domes(tag, sign):
    domes = (0.15, 0.85, 0.6, 0.72)        # just above normal domes: lung ↔ abdomen
    assert sign * effect([tag], domes) > 4


def test_elevated_hemidiaphragm_only_on_its_side():
    tags = ["Diaphragm/right/elevated"]
    assert effect(tags, (0.15, 0.42, 0.55, 0.68)) > 5
    assert abs(effect(tags, (0.58, 0.85, 0.55, 0.68))) < 0.3


def _half_changes(tags: list[str], rows=(0.0, 1.0)) -> tuple[float, float]:
    """Summed |change| in the image-left and image-right halves."""
    change = np.abs(_peak_change(tags).astype(float))
    change = change[round(rows[0] * 128):round(rows[1] * 128)]
    return change[:, :64].sum(), change[:, 64:].sum()


@pytest.mark.parametrize("tag, patient_side", [
    ("Catheters, Indwelling/right", "right"), ("Implanted Medical Device/left", "left"),
    ("Tube, Inserted/left", "left"), ("Surgical Instruments/abdomen/right", "right")])
def test_devices_appear_on_the_named_side(tag, patient_side):
    image_left, image_right = _half_changes([tag], rows=(0.0, 0.45) if "Catheter" in tag
                                            else (0.0, 1.0))
    near, far = (image_left, image_right) if patient_side == "right" else (image_right,
                                                                          image_left)
    assert near > 2 * far and near > 200


@pytest.mark.parametrize("tag", ["Surgical Instruments/mediastinum", "Tube, Inserted/trachea",
                                 "Thoracic Vertebrae/degenerative/severe"])
def test_midline_findings_stay_near_the_midline(tag):
    change = np.abs(_peak_change([tag]).astype(float))
    centre = change[:, 50:78].sum()
    assert centre > 100 and centre > 4 * (change.sum() - centre)


def test_scoliosis_convex_right_bends_the_spine_to_the_image_left():
    change = _peak_change(["Scoliosis/thoracic vertebrae/right/severe"])[30:80]
    assert change[:, 44:62].sum() > 0 > change[:, 66:84].sum()


def test_oedema_brightens_both_lungs_alike():
    tags = ["Pulmonary Edema/moderate"]
    right, left = effect(tags, (0.2, 0.4, 0.4, 0.6)), effect(tags, (0.6, 0.8, 0.4, 0.6))
    assert right > 2 and left > 2 and abs(right - left) < 0.5 * max(right, left)


@pytest.mark.parametrize("tag", ["Aorta/tortuous/severe", "Calcinosis/aorta",
                                 "Mediastinum/prominent/severe"])
def test_aortic_and_mediastinal_findings_change_the_upper_mediastinum(tag):
    change = np.abs(_peak_change([tag]).astype(float))
    upper_mediastinum = change[:64, 40:95].sum()
    assert upper_mediastinum > 100 and upper_mediastinum > 4 * (change.sum() - upper_mediastinum)


def test_hiatal_hernia_lies_behind_the_heart():
    change = np.abs(_peak_change(["Hernia, Hiatal/large"]).astype(float))
    behind_heart = change[70:105, 50:85].sum()
    assert behind_heart > 100 and behind_heart > 4 * (change.sum() - behind_heart)


def test_tag_parsing_reads_side_zone_and_severity_in_any_order():
    tag = parse_tag("Calcinosis/lung/hilum/lymph nodes/right")
    assert (tag.finding, tag.sides, tag.zones) == ("calcinosis", ("right",),
                                                   ("lung", "hilum", "lymph nodes"))
    tag = parse_tag("Pleural Effusion/bilateral/small")
    assert tag.sides == ("right", "left") and tag.severity == 1.0
    assert parse_tag(" Opacity / lung / base / left / streaky ").modifiers == ("streaky",)
    assert parse_tag("Scoliosis/thoracic vertebrae/right/mild").zones == ("thoracic vertebrae",)
