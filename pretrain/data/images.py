"""Load chest radiographs (PNG, JPEG; DICOM when pydicom is installed) as grayscale float arrays.

Errors are one line (`ImageError`) so a long run can count a bad file and go on.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from perturb.errors import DataError

DICOM_SUFFIXES = (".dcm", ".dicom")


class ImageError(DataError):
    """An image that is missing or cannot be decoded; the message names the file."""


def load_image(path: str | os.PathLike[str]) -> np.ndarray:
    """The image as float32 [H, W] in [0, 1] (bright = dense, as on film)."""
    path = Path(path)
    if not path.is_file():
        raise ImageError(f"{path}: no such image")
    if path.suffix.lower() in DICOM_SUFFIXES:
        return _load_dicom(path)
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image.load()
            pixels = _grayscale(image)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        raise ImageError(f"{path}: cannot decode image ({err})") from None
    return pixels


def _grayscale(image) -> np.ndarray:
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        pixels = np.asarray(image, dtype=np.float32)
        top = 65535.0 if image.mode.startswith("I;16") or pixels.max() > 255 else 255.0
        return np.clip(pixels / top, 0, 1)
    if image.mode != "L":
        image = image.convert("L")
    return np.asarray(image, dtype=np.float32) / 255.0


def _load_dicom(path: Path) -> np.ndarray:
    try:
        import pydicom
    except ImportError:
        raise ImageError(f"{path}: reading DICOM needs pydicom (pip install pydicom)") from None
    try:
        dataset = pydicom.dcmread(path)
        pixels = dataset.pixel_array.astype(np.float32)
    except Exception as err:  # pydicom raises many types for broken files
        raise ImageError(f"{path}: cannot decode DICOM ({type(err).__name__}: {err})") from None
    pixels = pixels * float(getattr(dataset, "RescaleSlope", 1)) + float(
        getattr(dataset, "RescaleIntercept", 0))
    low, high = float(pixels.min()), float(pixels.max())
    pixels = (pixels - low) / (high - low) if high > low else np.zeros_like(pixels)
    if getattr(dataset, "PhotometricInterpretation", "") == "MONOCHROME1":
        pixels = 1.0 - pixels
    return pixels


def is_complete_png(path: str | os.PathLike[str], size: int) -> bool:
    """Whether `path` is a whole, decodable `size`×`size` PNG (resumed runs skip those)."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            if image.format != "PNG" or image.size != (size, size):
                return False
            image.load()
    except (OSError, SyntaxError, ValueError):
        return False
    return True
