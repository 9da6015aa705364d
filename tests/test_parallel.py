"""--jobs N gives exactly the output, rejects, counts and exit code of a single process."""

from __future__ import annotations

import gzip
import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from normalizer.bench import corpus
from normalizer.file_ranges import file_ranges, plain_ndjson_start, range_items
from normalizer.parallel import WorkerFailed, normalize_parallel
from normalizer.pipeline import Counts
from normalizer.readers import LineBatch, Reject, parse_batch, parsed, read_batches, read_records
from normalizer.ruleset import load_ruleset


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


def test_jobs_nested_output_is_identical(inputs):
    files = [str(inputs / n) for n in ("a.ndjson", "b.json", "c.ndjson.gz")]
    assert _run([*files, "--nested", "-q"]) == _run([*files, "--nested", "-q", "-j", "2"])


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


def _batched(path):
    with open(path, "rb") as f:
        parts = []
        for item in read_batches(f, "a", batch_bytes=4096):
            parts.extend(parse_batch(item) if isinstance(item, LineBatch) else parsed([item]))
    return parts


def test_batches_reproduce_read_records(inputs, tmp_path):
    """Batches parsed separately give the same items, line numbers included, as one read:
    NDJSON lines, and documents whose records travel as text (bad elements, non-objects,
    an envelope, a pretty-printed array, one cut off by a fresh record, one truncated)."""
    lines = corpus(30)
    pretty = orjson.dumps([orjson.loads(line) for line in lines[:5]], option=orjson.OPT_INDENT_2)
    documents = (b"[" + b",".join(lines[:10]) + b", 42, {bad}, " + lines[10] + b"]\n"
                 + b'{"value": [' + b",".join(lines[11:20]) + b'], "@odata.nextLink": "x"}\n'
                 + pretty + b"\n[" + lines[20] + b", {\"Id\": \n" + lines[21] + b"\n[" + lines[22] + b", " + lines[23])
    (tmp_path / "docs.json").write_bytes(documents)
    for path in (inputs / "a.ndjson", inputs / "b.json", tmp_path / "docs.json"):
        with open(path, "rb") as f:
            whole = list(read_records(f, "a"))
        assert _batched(path) == whole
    assert sum(1 for item in whole if isinstance(item, tuple)) > 20 and sum(isinstance(i, Reject) for i in whole) >= 3


def _file_items(path, range_bytes):
    with open(path, "rb") as f:
        start = plain_ndjson_start(f)
        assert start is not None
        return [item for r in file_ranges("a", str(path), f.fileno(), start, range_bytes) for item in range_items(r)]


@pytest.mark.parametrize("range_bytes", [64, 1000, 1 << 20])
def test_file_ranges_reproduce_read_records(tmp_path, range_bytes):
    """What --jobs workers read of a plain file by byte ranges is exactly what one reader gives:
    a byte-order mark, CRLF, blank and broken lines, a line longer than a range, no final newline."""
    lines = corpus(40)
    body = (b"\xef\xbb\xbf" + lines[0] + b"\r\n" + b"\n".join(lines[1:20]) + b"\n\n  \nnot json\n"
            + b'{"value": [' + b",".join(lines[20:30]) + b"]}\n" + b"\n".join(lines[30:]))
    path = tmp_path / "a.ndjson"
    path.write_bytes(body)
    with open(path, "rb") as f:
        whole = list(read_records(f, "a"))
    assert _file_items(path, range_bytes) == whole
    assert sum(1 for item in whole if isinstance(item, tuple)) == 40


def test_only_plain_ndjson_files_are_read_by_range(tmp_path, inputs):
    for name in ("b.json", "c.ndjson.gz"):  # a JSON document, gzip: the main process reads them
        with open(inputs / name, "rb") as f:
            assert plain_ndjson_start(f) is None and f.tell() == 0
    with open(inputs / "a.ndjson", "rb") as f:
        assert plain_ndjson_start(f) == 0
    empty = tmp_path / "empty.ndjson"
    empty.write_bytes(b"")
    assert _file_items(empty, 1 << 20) == []


class _DiesOn:
    """A rule set whose worker process is killed by the record with "die" in it."""

    def __init__(self, real):
        self.real = real

    def normalize_flat(self, record):
        if "die" in record:
            os.kill(os.getpid(), signal.SIGKILL)
        return self.real.normalize_flat(record)


def test_a_dead_worker_stops_the_run_with_a_clear_error(tmp_path):
    lines = corpus(3000)
    lines[2500] = b'{"die": 1}'
    path = tmp_path / "in.ndjson"
    path.write_bytes(b"\n".join(lines) + b"\n")
    out = io.BytesIO()
    with pytest.raises(WorkerFailed, match=r"worker \d stopped unexpectedly \(signal 9\)"):
        normalize_parallel([(str(path), open(path, "rb"))], _DiesOn(load_ruleset()), 2, nested=False, strict=False,
                           write=out.write, write_reject=out.write, counts=Counts())
    written = out.getvalue().count(b"\n")
    assert 0 < written < 2500  # whole batches before the one the worker died in, nothing after it


def test_command_exits_6_when_a_worker_is_killed(tmp_path):
    """What a user sees when the OOM killer takes a worker: a message, exit code 6, no hang."""
    path = tmp_path / "big.ndjson"
    path.write_bytes(b"\n".join(corpus(20000) * 5) + b"\n")
    proc = subprocess.Popen([sys.executable, "-m", "normalizer", str(path), "-j", "2", "-o", os.devnull],
                            stderr=subprocess.PIPE)
    children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
    deadline = time.monotonic() + 60
    while not (pids := children.read_text().split()) and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(int(pids[0]), signal.SIGKILL)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 6
    assert b"worker 1 stopped unexpectedly (signal 9); the output is complete up to" in err
