"""The corpus library: reading reports, the parse cache, writing corpora — a Python API.

- `atomic`: atomic writes (`atomic_open`), reading gzip transparently (`open_text`);
- `parse_cache`: `ParseCache` / `ParseCacheWriter` and `parse_with_cache`, the one way to get
  parses (the cache's where it serves a record, a parser for the rest); `build_parse_cache`,
  `ensure_parse_cache` and `check_parse_cache` for a pretraining run's reports;
- `records`: readers of JSONL, CSV/TSV and text (files, gzip, stdin) into `Record`s, with a
  counted `Reject` (file, line, reason) for every bad row and unique keys;
- `pipeline`: records → parses → negatives, in chunks (`perturb_records`);
- `corpus_writers`: the corpus (JSONL or CSV) and its rejects file;
- `sharding`: `Shard`, a stable split of a corpus by record key;
- `spacy_model`: `model_identity` (name and version without loading spaCy) and `load_parser`;
- `paths`: `check_outputs`, never writing over an input or twice into one file.

Errors are `perturb.errors.UsageError` (the request is wrong) or `DataError` (the data is);
progress is reported only through callbacks (`read_records(on_bytes=...)`).
"""

from perturb.io.atomic import atomic_open, open_text
from perturb.io.corpus_writers import corpus_writer, default_rejects_path, open_output, open_rejects, output_format
from perturb.io.parse_cache import (
    ParseCache,
    ParseCacheError,
    ParseCacheMismatch,
    ParseCacheWriter,
    build_parse_cache,
    check_parse_cache,
    ensure_parse_cache,
    missing_records,
    parse_with_cache,
    write_parse_cache,
)
from perturb.io.paths import check_outputs
from perturb.io.pipeline import ParseSource, PerturbOptions, Perturbed, perturb_records
from perturb.io.records import ByteCount, Record, Reject, Schema, check_inputs, read_records
from perturb.io.sharding import Shard
from perturb.io.spacy_model import ModelIdentity, load_parser, model_identity

__all__ = [
    "ByteCount",
    "ModelIdentity",
    "ParseCache",
    "ParseCacheError",
    "ParseCacheMismatch",
    "ParseCacheWriter",
    "ParseSource",
    "PerturbOptions",
    "Perturbed",
    "Record",
    "Reject",
    "Schema",
    "Shard",
    "atomic_open",
    "build_parse_cache",
    "check_parse_cache",
    "check_inputs",
    "check_outputs",
    "corpus_writer",
    "default_rejects_path",
    "ensure_parse_cache",
    "load_parser",
    "missing_records",
    "model_identity",
    "open_output",
    "open_rejects",
    "open_text",
    "output_format",
    "parse_with_cache",
    "perturb_records",
    "read_records",
    "write_parse_cache",
]
