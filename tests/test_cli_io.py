"""Input readers, writers' paths and sharding of the corpus CLI: no spaCy needed."""

from __future__ import annotations

import csv
import gzip
import io
import json

import pytest

from perturb.io.corpus_writers import default_rejects_path, output_format
from cli.errors import DataError, UsageError
from perturb.io.records import (
    ByteCount,
    Record,
    Reject,
    Schema,
    check_inputs,
    input_format,
    read_records,
)
from perturb.io.sharding import Shard

DEFAULT = Schema()


def read(path, schema=DEFAULT, **kwargs):
    return list(read_records([str(path)], schema, **kwargs))


def write_bytes(tmp_path, name, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_jsonl_rows_become_records_keyed_by_id_else_line_number(tmp_path):
    path = write_bytes(
        tmp_path,
        "r.jsonl",
        b"\n".join(
            [
                json.dumps({"id": "a", "text": "Heart normal."}).encode(),
                b"",
                json.dumps({"findings": "Lungs clear.", "impression": "No disease."}).encode(),
                json.dumps({"id": 7, "findings": "", "impression": "Stable."}).encode(),
            ]
        )
        + b"\n",
    )
    assert read(path) == [
        Record(str(path), 1, "a", "Heart normal."),
        Record(str(path), 3, "3", "Lungs clear.\n\nNo disease."),
        Record(str(path), 4, "7", "Stable."),
    ]


def test_every_bad_jsonl_row_is_a_reject_with_its_line_and_reason(tmp_path):
    lines = [
        b'{"id": "ok", "text": "Heart normal."}',
        b'{"id": "x", "text": "unterminated',
        b'["a", "list"]',
        b'{"id": "m", "report": "no text field"}',
        b'{"id": "e", "findings": "", "impression": "  "}',
        b'{"id": "bad", "text": "caf\xe9"}',
        b'{"id": "n", "text": 42}',
        b'{"id": null, "text": "Null id."}',
        b'{"id": "", "text": "Empty id."}',
    ]
    path = write_bytes(tmp_path, "r.jsonl", b"\n".join(lines) + b"\n")
    items = read(path)
    assert len(items) == len(lines)
    assert isinstance(items[0], Record)
    rejects = {r.line: r.reason for r in items if isinstance(r, Reject)}
    assert rejects[2].startswith("malformed JSON: Unterminated string")
    assert rejects[3] == "not a JSON object but a list"
    assert rejects[4].startswith("missing field: none of 'text', 'findings', 'impression'")
    assert rejects[5] == "empty text"
    assert rejects[6] == "undecodable bytes: not UTF-8 (byte 0xe9 at column 27)"
    assert rejects[7] == "field 'text' is not a string"
    assert rejects[8] == "id field 'id' is not a string or integer"
    assert rejects[9] == "empty id field 'id'"
    assert str(items[1]) == f"{path}:2: malformed JSON: Unterminated string starting at (column 21)"


def test_explicit_fields_must_all_be_present_and_are_joined_by_a_blank_line(tmp_path):
    path = write_bytes(
        tmp_path,
        "r.jsonl",
        (
            json.dumps({"rid": "a", "f": "Heart normal.", "i": "No disease."})
            + "\n"
            + json.dumps({"rid": "b", "f": "Heart normal."})
            + "\n"
        ).encode(),
    )
    items = read(path, Schema("rid", ("f", "i")))
    assert items[0] == Record(str(path), 1, "a", "Heart normal.\n\nNo disease.")
    assert items[1] == Reject(str(path), 2, "missing field 'i'", "b")


def test_csv_keeps_quotes_commas_slashes_and_newlines_inside_fields(tmp_path):
    texts = ['Signal on T2/FLAIR, "marked", and/or edema.\nSecond line, here.', "Plain, simple."]
    path = tmp_path / "r.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "text"])
        writer.writerows([["q1", texts[0]], ["q2", texts[1]]])
    items = read(path)
    assert items == [Record(str(path), 2, "q1", texts[0]), Record(str(path), 4, "q2", texts[1])]


def test_csv_rejects_wrong_column_counts_and_undecodable_rows_at_their_first_line(tmp_path):
    data = (
        b"id,findings,impression\r\n"
        b"a,Heart normal.,No disease.\r\n"
        b"b,too,many,columns\r\n"
        b'c,"multi\nline \xff field",x\r\n'
        b"d,too few\r\n"
        b"\r\n"
        b"e,,Stable.\r\n"
    )
    path = write_bytes(tmp_path, "r.csv", data)
    items = read(path)
    assert [(type(i).__name__, i.line) for i in items] == [
        ("Record", 2),
        ("Reject", 3),
        ("Reject", 5),
        ("Reject", 6),
        ("Record", 8),
    ]
    assert items[1].reason == "expected 3 columns, found 4"
    assert items[2].reason == "undecodable bytes: not UTF-8"
    assert items[3].reason == "expected 3 columns, found 2"
    assert items[4].text == "Stable." and items[4].key == "e"


def test_csv_header_without_text_columns_is_a_file_error_not_a_reject_per_row(tmp_path):
    path = write_bytes(tmp_path, "r.csv", b"id,report\n1,Heart normal.\n")
    with pytest.raises(DataError, match=r"r\.csv:1: missing field: none of 'text'.*columns: id, report"):
        read(path)
    with pytest.raises(DataError, match=r"no column 'impression'"):
        read(path, Schema(fields=("report", "impression")))
    assert read(path, Schema(fields=("report",))) == [Record(str(path), 2, "1", "Heart normal.")]


def test_tsv_and_csv_without_id_column_use_line_numbers(tmp_path):
    path = write_bytes(tmp_path, "r.tsv", "\ufefftext\nHeart normal.\nLungs, clear.\n".encode())
    assert [(r.key, r.text) for r in read(path)] == [("2", "Heart normal."), ("3", "Lungs, clear.")]


def test_text_lines_are_reports_and_blank_lines_are_rejected_not_dropped(tmp_path):
    path = write_bytes(tmp_path, "r.txt", b"Heart normal.\r\n\n  \nbad \xc3(\nLungs clear.")
    items = read(path)
    assert [(type(i).__name__, i.line, i.key) for i in items] == [
        ("Record", 1, "1"),
        ("Reject", 2, "2"),
        ("Reject", 3, "3"),
        ("Reject", 4, "4"),
        ("Record", 5, "5"),
    ]
    assert items[0].text == "Heart normal."
    assert items[1].reason == "empty text"
    assert items[3].reason.startswith("undecodable bytes")


def test_several_inputs_get_distinct_line_keys(tmp_path):
    a = write_bytes(tmp_path, "a.txt", b"One.\n")
    b = write_bytes(tmp_path, "b.txt", b"Two.\n")
    keys = [r.key for r in read_records([str(a), str(b)], DEFAULT)]
    assert keys == [f"{a}:1", f"{b}:1"]


def test_stdin_format_is_sniffed_and_bytes_are_counted(tmp_path):
    jsonl = b'\n{"id": "s", "text": "Heart normal."}\n'
    counter = ByteCount()
    items = list(read_records(["-"], DEFAULT, stdin=io.BytesIO(jsonl), on_bytes=counter))
    assert items == [Record("<stdin>", 2, "s", "Heart normal.")]
    assert counter.value == len(jsonl)
    text = b"Heart normal.\n{not json}\n"
    items = list(read_records(["-"], DEFAULT, stdin=io.BytesIO(text)))
    assert [r.text for r in items] == ["Heart normal.", "{not json}"]
    forced = list(read_records(["-"], DEFAULT, explicit_format="jsonl", stdin=io.BytesIO(text)))
    assert isinstance(forced[0], Reject)


def test_gzip_inputs_are_read_by_their_inner_extension(tmp_path):
    path = tmp_path / "r.jsonl.gz"
    with gzip.open(path, "wb") as handle:
        handle.write(b'{"id": "g", "text": "Heart normal."}\n')
    assert read(path) == [Record(str(path), 1, "g", "Heart normal.")]
    broken = write_bytes(tmp_path, "bad.txt.gz", gzip.compress(b"Line one.\n" * 100)[:-20])
    with pytest.raises(DataError, match="corrupt gzip stream"):
        read(broken)


def test_reading_is_lazy_one_line_per_record():
    """Structural proof of bounded memory on the input side: a record is yielded as soon as its
    line is read, so pulling k records has consumed k lines, however long the input."""

    class Endless:
        def __init__(self) -> None:
            self.lines = 0

        def __iter__(self):
            while True:
                self.lines += 1
                yield f'{{"id": "{self.lines}", "text": "Report {self.lines}."}}\n'.encode()

    source = Endless()
    records = read_records(["-"], DEFAULT, explicit_format="jsonl", stdin=source)
    for k in range(1, 1001):
        assert next(records).key == str(k)
        assert source.lines == k


def test_formats_come_from_extensions_or_a_one_line_usage_error(tmp_path):
    assert input_format("a.JSONL", None) == "jsonl"
    assert input_format("a.csv.gz", None) == "csv"
    assert input_format("a.dat", "text") == "text"
    assert input_format("-", None) is None
    with pytest.raises(UsageError, match="cannot tell the format of 'a.dat'"):
        input_format("a.dat", None)
    with pytest.raises(UsageError, match="no such file: missing.jsonl"):
        check_inputs(["missing.jsonl"], None)
    with pytest.raises(UsageError, match="is a directory"):
        check_inputs([str(tmp_path)], "jsonl")
    with pytest.raises(UsageError, match="only once"):
        check_inputs(["-", "-"], None)


def test_output_format_and_rejects_path():
    assert output_format("out.csv", None) == "csv"
    assert output_format("out.csv.gz", None) == "csv"
    assert output_format("out.jsonl", None) == "jsonl"
    assert output_format("-", "csv") == "csv"
    assert default_rejects_path("runs/out.jsonl.gz") == "runs/out.rejects.jsonl"
    assert default_rejects_path("out.csv") == "out.rejects.jsonl"
    assert default_rejects_path("-") is None


def test_shards_partition_keys_stably():
    keys = [f"report-{i}" for i in range(3000)]
    shards = [Shard.parse(f"{i}/4") for i in range(4)]
    owners = [[s.owns(k) for s in shards] for k in keys]
    assert all(sum(o) == 1 for o in owners)
    sizes = [sum(o[i] for o in owners) for i in range(4)]
    assert min(sizes) > 600  # roughly even
    # Pinned: a SLURM array started tomorrow must split exactly as one started today.
    assert [next(i for i, s in enumerate(shards) if s.owns(k)) for k in keys[:12]] == [
        1,
        2,
        3,
        3,
        0,
        0,
        1,
        0,
        1,
        1,
        3,
        0,
    ]
    assert Shard.parse(None) == Shard(0, 1) and Shard.parse(" 2 / 3 ") == Shard(2, 3)
    for bad in ("3/3", "1", "a/b", "-1/2", "0/0"):
        with pytest.raises(UsageError, match="bad --shard"):
            Shard.parse(bad)
