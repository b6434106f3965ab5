"""Deterministic train/valid/test splits by a hash of the report id.

A hash (not a shuffle) keeps every report in the same split whatever else is in the corpus, in
any process or Python version. The default test fraction puts about 469 of Open-I's 3,955
reports in test, the size of the held-out set in the paper.
"""

from __future__ import annotations

import hashlib

SPLITS = ("train", "valid", "test")
TEST_FRACTION = 469 / 3955
VALID_FRACTION = 0.05


def split_position(report_id: str, salt: str = "radperturb-split") -> float:
    """A uniform number in [0, 1) fixed by the id."""
    digest = hashlib.blake2b(f"{salt}:{report_id}".encode("utf-8", "surrogatepass"),
                             digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2 ** 64


def assign_split(report_id: str, test_fraction: float = TEST_FRACTION,
                 valid_fraction: float = VALID_FRACTION) -> str:
    """'test' for the first `test_fraction` of hash space, then 'valid', else 'train'."""
    if not (0 <= test_fraction and 0 <= valid_fraction and test_fraction + valid_fraction <= 1):
        raise ValueError(f"split fractions must be ≥ 0 and sum to at most 1, got test="
                         f"{test_fraction}, valid={valid_fraction}")
    position = split_position(report_id)
    if position < test_fraction:
        return "test"
    if position < test_fraction + valid_fraction:
        return "valid"
    return "train"
