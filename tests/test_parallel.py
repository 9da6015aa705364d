"""--jobs N gives exactly the output, rejects, counts and exit code of a single process."""

from __future__ import annotations

import gzip
import subprocess
import sys

import orjson
import pytest

from normalizer.bench import corpus
from normalizer.readers import LineBatch, parse_batch, read_batches, read_records


def _run(args, stdin=None):
    proc = subprocess.run([sys.executable, "-m", "normalizer", *args], input=stdin, capture_output=True, check=False)
    return proc.returncode, proc.stdout, proc.stderr


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    d = tmp_path_factory.mktemp("par")
    lines = corpus(6000)
    mixed = list(lines)
    mixed.insert(100, b"not json")
    mixed.insert(3000, b"42")
    mixed.insert(4500, b"")
    (d / "a.ndjson").write_bytes(b"\n".join(mixed) + b"\n")
    (d / "b.json").write_bytes(b"[" + b",".join(lines[:50]) + b"]")  # a document, read by the main process
    (d / "c.ndjson.gz").write_bytes(gzip.compress(b"\n".join(lines[50:2000]) + b"\n"))
    return d


@pytest.mark.parametrize("jobs", ["2", "3"])
def test_jobs_output_is_identical(inputs, jobs):
    files = [str(inputs / n) for n in ("a.ndjson", "b.json", "c.ndjson.gz")]
    one = _run([*files, "-j", "1"])
    many = _run([*files, "-j", jobs])
    assert one[0] == many[0] == 1  # the input has rejects
    assert one[1] == many[1]
    assert one[2] == many[2]  # rejects (with line numbers) and the summary line
    assert f"{6002 + 50 + 1950} records in".encode() in many[2]  # the blank line is not a record


def test_jobs_with_stdin(inputs):
    data = (inputs / "a.ndjson").read_bytes()
    assert _run(["-", "-q"], stdin=data)[:2] == _run(["-", "-q", "-j", "2"], stdin=data)[:2]


def test_jobs_strict_stops_at_the_same_record(tmp_path):
    rules = tmp_path / "r"
    rules.mkdir()
    (rules / "r.yaml").write_text("version: 1\nstream: audit\nrules:\n  - id: t.n\n    set:\n      o365.audit.N: to_int(.X)\n")
    lines = [orjson.dumps({"X": str(i)}) for i in range(5000)]
    lines[3777] = b'{"X": "oops"}'
    src = tmp_path / "in.ndjson"
    src.write_bytes(b"\n".join(lines) + b"\n")
    one = _run([str(src), "--rules", str(rules), "--strict", "-q"])
    many = _run([str(src), "--rules", str(rules), "--strict", "-q", "-j", "2"])
    assert one[0] == many[0] == 4
    assert one[1] == many[1] and one[1].count(b"\n") == 3777
    assert b"in.ndjson:3778" in many[2]


def test_jobs_must_be_positive(inputs):
    assert _run([str(inputs / "a.ndjson"), "-j", "0"])[0] == 2


def test_batches_reproduce_read_records(inputs):
    """Batches parsed separately give the same items, line numbers included, as one read."""
    with open(inputs / "a.ndjson", "rb") as f:
        whole = list(read_records(f, "a"))
    with open(inputs / "a.ndjson", "rb") as f:
        parts = []
        for item in read_batches(f, "a", batch_bytes=4096):
            parts.extend(parse_batch(item) if isinstance(item, LineBatch) else [item])
    assert parts == whole
