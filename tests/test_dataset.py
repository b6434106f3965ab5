"""ManifestDataset and the torch transforms: shapes, dtypes, splits, bad images counted."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch
from PIL import Image

from pretrain.data import ManifestDataset, ManifestRow, collate_pairs, write_manifest
from pretrain.data.images import ImageError, load_image
from pretrain.data.transforms import IMAGE_MEAN, IMAGE_STD, XrayTransform
from pretrain.phantoms.phantom import render_phantom, save_png


@pytest.fixture()
def manifest(tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    save_png(render_phantom(["Pleural Effusion/left/small"], 1, 64).image, images / "a.png")
    Image.fromarray(render_phantom(["normal"], 2, 80).image[:, :70]).save(images / "b.jpg")
    wide16 = (render_phantom(["Cardiomegaly"], 3, 64).image.astype(np.uint16) * 257)[:48]
    Image.fromarray(wide16).save(images / "c.png")          # 16-bit, not square
    (images / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    rows = [
        ManifestRow("a", "images/a.png", "Small left effusion.", "Effusion.",
                    ("Pleural Effusion/left/small",), "train"),
        ManifestRow("b", "images/b.jpg", "Normal.", "", ("normal",), "test"),
        ManifestRow("c", "images/c.png", "", "Enlarged heart.", ("Cardiomegaly",), "train"),
        ManifestRow("gone", "images/gone.png", "Missing.", "", (), "train"),
        ManifestRow("broken", "images/broken.png", "Corrupt.", "", (), "valid"),
    ]
    path = tmp_path / "manifest.csv"
    write_manifest(path, rows)
    return path


def test_items_have_the_contract_shapes_and_types(manifest):
    with pytest.warns(UserWarning, match="1 of 5 images are missing"):
        dataset = ManifestDataset(manifest, image_size=32)
    assert len(dataset) == 4 and dataset.missing == ["gone"]
    item = dataset[0]
    assert item["id"] == "a" and item["text"] == "Small left effusion.\n\nEffusion."
    assert item["tags"] == ["Pleural Effusion/left/small"]
    assert item["image"].dtype == torch.float32 and item["image"].shape == (3, 32, 32)
    assert dataset[2]["image"].shape == (3, 32, 32)            # 16-bit, cropped to square
    assert dataset[2]["text"] == "Enlarged heart."


def test_split_and_channels(manifest):
    with pytest.warns(UserWarning):
        train = ManifestDataset(manifest, split="train", image_size=24, channels=1)
    assert [row.id for row in train.rows] == ["a", "c"]
    assert train[1]["image"].shape == (1, 24, 24)
    test = ManifestDataset(manifest, split="test", image_size=24)
    assert [row.id for row in test.rows] == ["b"]
    with pytest.raises(ValueError, match="split must be one of"):
        ManifestDataset(manifest, split="validation")


def test_unreadable_images_are_counted_when_checked(manifest):
    with pytest.warns(UserWarning) as caught:
        dataset = ManifestDataset(manifest, image_size=24, check_images=True)
    assert dataset.unreadable == ["broken"] and len(dataset) == 3
    assert any("1 of 5 images are unreadable" in str(w.message) for w in caught)
    with pytest.raises(ImageError, match="broken.png: cannot decode image"):
        load_image(manifest.parent / "images" / "broken.png")


def test_eval_transform_is_deterministic_and_standardised(manifest):
    pixels = load_image(manifest.parent / "images" / "a.png")
    transform = XrayTransform(size=48, train=False, channels=3)
    first, second = transform(pixels), transform(pixels)
    assert torch.equal(first, second)
    assert torch.equal(first[0], first[2])                     # grey copied to 3 channels
    restored = first[0] * IMAGE_STD + IMAGE_MEAN
    assert 0 <= restored.min() and restored.max() <= 1
    assert abs(restored.mean().item() - pixels.mean()) < 0.03  # resizing keeps brightness


def test_train_transform_varies_but_stays_close(manifest):
    pixels = load_image(manifest.parent / "images" / "a.png")
    transform = XrayTransform(size=48, train=True, channels=1)
    plain = XrayTransform(size=48, train=False, channels=1)(pixels)
    generator = torch.Generator().manual_seed(0)
    a, b = transform(pixels, generator), transform(pixels, generator)
    assert not torch.equal(a, b)
    assert a.shape == (1, 48, 48)
    for augmented in (a, b):   # small affine and exposure jitter, not a different picture
        assert (augmented - plain).abs().mean() < 0.6
        assert torch.corrcoef(torch.stack([augmented.flatten(), plain.flatten()]))[0, 1] > 0.6


def test_collate_stacks_images_and_keeps_tags_as_lists(manifest):
    with pytest.warns(UserWarning):
        dataset = ManifestDataset(manifest, image_size=16, check_images=True)
    batch = collate_pairs([dataset[0], dataset[1]])
    assert batch["image"].shape == (2, 3, 16, 16)
    assert batch["tags"] == [["Pleural Effusion/left/small"], ["normal"]]
    loader = torch.utils.data.DataLoader(dataset, batch_size=4, collate_fn=collate_pairs)
    assert next(iter(loader))["image"].shape == (3, 3, 16, 16)


@pytest.mark.skipif(importlib.util.find_spec("pydicom") is not None,
                    reason="checks the message shown when pydicom is absent")
def test_dicom_without_pydicom_is_a_one_line_error(tmp_path):
    (tmp_path / "x.dcm").write_bytes(b"\0" * 200)
    with pytest.raises(ImageError, match="reading DICOM needs pydicom"):
        load_image(tmp_path / "x.dcm")


@pytest.mark.skipif(importlib.util.find_spec("pydicom") is None, reason="needs pydicom")
def test_dicom_is_read_with_rescale_and_monochrome1_inverted(tmp_path):
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    def write(path, photometric):
        meta = FileMetaDataset()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1.1"
        meta.MediaStorageSOPInstanceUID = generate_uid()
        ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
        ds.Rows, ds.Columns = 4, 4
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, photometric
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
        ds.RescaleSlope, ds.RescaleIntercept = 2, -100
        ds.PixelData = np.arange(16, dtype=np.uint16).reshape(4, 4).tobytes()
        ds.save_as(path, enforce_file_format=True)

    write(tmp_path / "m2.dcm", "MONOCHROME2")
    write(tmp_path / "m1.dcm", "MONOCHROME1")
    m2, m1 = load_image(tmp_path / "m2.dcm"), load_image(tmp_path / "m1.dcm")
    assert m2.shape == (4, 4) and m2[0, 0] == 0 and m2[3, 3] == 1
    assert np.allclose(m1, 1 - m2)
    (tmp_path / "bad.dcm").write_bytes(b"not dicom")
    with pytest.raises(ImageError, match="bad.dcm: cannot decode DICOM"):
        load_image(tmp_path / "bad.dcm")
