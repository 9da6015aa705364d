"""End-to-end tests of the ``o365norm`` command line: normalize, check, explain, rules test.

Most tests drive ``normalizer.cli.main.main(argv)`` in-process; a few run
``python -m normalizer`` in a subprocess (one of them piping stdin).

The built-in rule set is still growing, so the only rule-made attributes asserted on
here are ``o365.audit.RecordType``, ``o365.audit.RecordTypeName`` and ``@timestamp``;
records are otherwise told apart by a ``Seq`` field that only the passthrough copies.
"""

from __future__ import annotations

import gzip
import io
import os
import re
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

import normalizer
from normalizer.cli import exit_codes
from normalizer.cli.main import main
from normalizer.resources import builtin_rules_dir

REPO = Path(normalizer.__file__).resolve().parent.parent
SUMMARY = re.compile(r"^o365norm: (\d+) records in, (\d+) out, (\d+) rejected, (\d+) with warnings$", re.M)

RECORDS = [
    {"Seq": 1, "RecordType": 1, "CreationTime": "2024-05-06T07:08:09", "Operation": "Set-Mailbox"},
    {"Seq": 2, "RecordType": "6", "CreationTime": "2024-05-06T07:08:10", "Operation": "FileAccessed"},
    {"Seq": 3, "RecordType": 15, "CreationTime": "2024-05-06T07:08:11", "Operation": "UserLoggedIn"},
]
# What the rules must make of RECORDS: (Seq, RecordType, RecordTypeName, @timestamp).
EXPECTED = [
    (1, 1, "ExchangeAdmin", "2024-05-06T07:08:09Z"),
    (2, 6, "SharePointFileOperation", "2024-05-06T07:08:10Z"),
    (3, 15, "AzureActiveDirectoryStsLogon", "2024-05-06T07:08:11Z"),
]


# ------------------------------------------------------------------ helpers


def run(capsysbinary, *argv) -> tuple[int, bytes, str]:
    """Run the CLI in-process: (exit code, stdout bytes, stderr text)."""
    code = main([str(a) for a in argv])
    out, err = capsysbinary.readouterr()
    return code, out, err.decode()


def run_process(*argv, stdin: bytes | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run(
        [sys.executable, "-m", "normalizer", *map(str, argv)],
        input=stdin, capture_output=True, env=env, cwd=cwd, timeout=120,
    )


def lines(out: bytes) -> list[dict]:
    """The output: one JSON object per line."""
    return [orjson.loads(line) for line in out.splitlines()]


def summary(err: str) -> tuple[int, int, int, int]:
    (m,) = SUMMARY.findall(err)
    return tuple(map(int, m))


def digest(records: list[dict]) -> list[tuple]:
    return [(r["o365.audit.Seq"], r["o365.audit.RecordType"], r["o365.audit.RecordTypeName"], r["@timestamp"]) for r in records]


class _BinaryStdin:
    """Stands in for sys.stdin: the CLI reads sys.stdin.buffer."""

    def __init__(self, data: bytes):
        self.buffer = io.BytesIO(data)


def write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def ndjson(records: list[dict]) -> bytes:
    return b"".join(orjson.dumps(r) + b"\n" for r in records)


SHAPES = {
    "ndjson": ndjson,
    "array": lambda recs: orjson.dumps(recs),
    "pretty-array": lambda recs: orjson.dumps(recs, option=orjson.OPT_INDENT_2) + b"\n",
    "graph": lambda recs: orjson.dumps(
        {"@odata.context": "https://graph.microsoft.com/$metadata#x", "value": recs, "@odata.nextLink": "https://n"},
        option=orjson.OPT_INDENT_2,
    ),
    "odata-v2": lambda recs: orjson.dumps({"d": {"results": recs, "__next": "https://n"}}, option=orjson.OPT_INDENT_2),
}

OVERLAY_TO_INT = """\
version: 1
stream: audit
rules:
  - id: test.to_int
    set:
      o365.audit.N: to_int(.X)
"""

OVERLAY_UNKNOWN_FUNCTION = """\
version: 1
stream: audit
rules:
  - id: test.broken
    set:
      o365.audit.A: lowr(.X)
"""


# ------------------------------------------------------------ input shapes


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize("shape", list(SHAPES))
def test_every_input_shape(tmp_path, capsysbinary, shape, gz):
    data = SHAPES[shape](RECORDS)
    path = write(tmp_path / ("in.json.gz" if gz else "in.json"), gzip.compress(data) if gz else data)
    code, out, err = run(capsysbinary, path)
    assert code == exit_codes.OK, err
    assert digest(lines(out)) == EXPECTED
    assert summary(err) == (3, 3, 0, 0)


def test_gzip_is_recognised_without_a_gz_suffix(tmp_path, capsysbinary):
    path = write(tmp_path / "audit.log", gzip.compress(ndjson(RECORDS)))
    code, out, _ = run(capsysbinary, path)
    assert code == 0 and digest(lines(out)) == EXPECTED


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
def test_stdin(capsysbinary, monkeypatch, gz):
    data = SHAPES["graph"](RECORDS)
    monkeypatch.setattr(sys, "stdin", _BinaryStdin(gzip.compress(data) if gz else data))
    code, out, err = run(capsysbinary)  # no file: stdin
    assert code == 0 and digest(lines(out)) == EXPECTED
    monkeypatch.setattr(sys, "stdin", _BinaryStdin(ndjson(RECORDS[:1])))
    code, out, err = run(capsysbinary, "normalize", "-")
    assert code == 0 and digest(lines(out)) == EXPECTED[:1]


def test_several_files_in_one_run_keep_their_order(tmp_path, capsysbinary):
    a = write(tmp_path / "a.ndjson", ndjson(RECORDS[:1]))
    b = write(tmp_path / "b.json.gz", gzip.compress(SHAPES["pretty-array"](RECORDS[1:])))
    empty = write(tmp_path / "empty.json", b"")
    code, out, err = run(capsysbinary, a, empty, b)
    assert code == 0
    assert digest(lines(out)) == EXPECTED
    assert summary(err) == (3, 3, 0, 0)


def test_an_empty_file(tmp_path, capsysbinary):
    code, out, err = run(capsysbinary, write(tmp_path / "empty.json", b""))
    assert (code, out) == (0, b"")
    assert summary(err) == (0, 0, 0, 0)


# ------------------------------------------------------------ output shape


def test_output_is_one_flat_object_per_line(tmp_path, capsysbinary):
    record = dict(RECORDS[0], Nested={"Inner": {"Deep": "x"}, "List": [{"a": 1}]})
    code, out, _ = run(capsysbinary, write(tmp_path / "in.json", ndjson([record])))
    assert code == 0
    assert out.endswith(b"\n") and out.count(b"\n") == 1
    (flat,) = lines(out)
    assert not any(isinstance(value, dict) for value in flat.values())
    assert flat["o365.audit.RecordType"] == 1 and flat["@timestamp"] == "2024-05-06T07:08:09Z"
    assert flat["o365.audit.Nested.Inner.Deep"] == "x"
    assert flat["o365.audit.Nested.List"] == [{"a": 1}]


def test_nested_output(tmp_path, capsysbinary):
    record = dict(RECORDS[0], Nested={"Inner": {"Deep": "x"}})
    code, out, _ = run(capsysbinary, "--nested", write(tmp_path / "in.json", ndjson([record])))
    assert code == 0
    (tree,) = lines(out)
    assert not any(key.startswith("o365.") for key in tree)
    audit = tree["o365"]["audit"]
    assert (audit["Seq"], audit["RecordType"], audit["RecordTypeName"]) == (1, 1, "ExchangeAdmin")
    assert audit["Nested"] == {"Inner": {"Deep": "x"}}
    assert tree["@timestamp"] == "2024-05-06T07:08:09Z"


def test_output_file(tmp_path, capsysbinary):
    target = tmp_path / "out" / "normalized.ndjson"
    target.parent.mkdir()
    code, out, err = run(capsysbinary, "-o", target, write(tmp_path / "in.json", SHAPES["array"](RECORDS)))
    assert (code, out) == (0, b"")
    assert digest(lines(target.read_bytes())) == EXPECTED
    assert summary(err) == (3, 3, 0, 0)


def test_file_alone_is_short_for_normalize(tmp_path, capsysbinary):
    path = write(tmp_path / "in.json", SHAPES["graph"](RECORDS))
    short = run(capsysbinary, path)
    long = run(capsysbinary, "normalize", path)
    assert short == long and short[0] == 0 and short[1]


# ------------------------------------------------------------------ rejects


def _bad_inputs(tmp_path: Path) -> list[Path]:
    good1, good2, good3, good4 = RECORDS + [dict(RECORDS[0], Seq=4)]
    first = write(
        tmp_path / "first.ndjson",
        orjson.dumps(good1) + b"\n{not json\n" + orjson.dumps(good2) + b"\n42\n\n" + orjson.dumps(good3) + b"\n",
    )
    second = write(tmp_path / "second.json", b"[\n" + orjson.dumps(good4) + b',\n {"Seq": 5, "Operation": "x')
    return [first, second]


EXPECTED_REJECTS = [("first.ndjson", 2, "{not json"), ("first.ndjson", 4, "42"), ("second.json", 3, '{"Seq": 5, "Operation": "x')]


def _check_rejects(reject_lines: list[dict], paths: list[Path]) -> None:
    assert all(set(r) >= {"source", "line", "reason", "raw"} for r in reject_lines)
    assert [(Path(r["source"]).name, r["line"], r["raw"]) for r in reject_lines] == EXPECTED_REJECTS
    assert {r["source"] for r in reject_lines} == {str(p) for p in paths}
    reasons = [r["reason"] for r in reject_lines]
    assert reasons[0].startswith("invalid JSON")
    assert "not a JSON object" in reasons[1]
    assert "truncated" in reasons[2]


def test_rejects_go_to_stderr_and_the_rest_comes_out(tmp_path, capsysbinary):
    paths = _bad_inputs(tmp_path)
    code, out, err = run(capsysbinary, *paths)
    assert code == exit_codes.REJECTS
    assert [r["o365.audit.Seq"] for r in lines(out)] == [1, 2, 3, 4]
    reject_lines = [orjson.loads(line) for line in err.splitlines() if line.startswith("{")]
    _check_rejects(reject_lines, paths)
    assert summary(err) == (7, 4, 3, 0)


def test_rejects_file(tmp_path, capsysbinary):
    paths = _bad_inputs(tmp_path)
    rejects = tmp_path / "rejects.ndjson"
    code, out, err = run(capsysbinary, "--rejects", rejects, *paths)
    assert code == exit_codes.REJECTS
    assert [r["o365.audit.Seq"] for r in lines(out)] == [1, 2, 3, 4]
    _check_rejects(lines(rejects.read_bytes()), paths)
    assert not [line for line in err.splitlines() if line.startswith("{")]
    assert summary(err) == (7, 4, 3, 0)


def test_quiet_suppresses_the_summary(tmp_path, capsysbinary):
    code, out, err = run(capsysbinary, "-q", write(tmp_path / "in.json", ndjson(RECORDS)))
    assert code == 0 and len(lines(out)) == 3
    assert not SUMMARY.search(err)
    code, _, err = run(capsysbinary, "--quiet", "--rejects", tmp_path / "r.json", *_bad_inputs(tmp_path))
    assert code == exit_codes.REJECTS and err == ""


# --------------------------------------------------------------- exit codes


def test_unknown_option_is_a_usage_error(tmp_path, capsysbinary):
    path = write(tmp_path / "in.json", ndjson(RECORDS))
    for argv in (["--no-such-option", path], ["normalize", "--no-such-option", path], ["check", "--bogus"]):
        code, out, err = run(capsysbinary, *argv)
        assert code == exit_codes.USAGE, argv
        assert out == b""
        assert "--no-such-option" in err or "--bogus" in err


def test_missing_input_file_is_a_usage_error_with_no_output(tmp_path, capsysbinary):
    good = write(tmp_path / "good.json", ndjson(RECORDS))
    missing = tmp_path / "missing.json"
    target = tmp_path / "out.ndjson"
    code, out, err = run(capsysbinary, "-o", target, good, missing)
    assert code == exit_codes.USAGE
    assert out == b"" and not target.exists()
    assert "missing.json" in err and not SUMMARY.search(err)


def test_an_unwritable_output_or_rejects_file_is_a_usage_error(tmp_path, capsysbinary):
    path = write(tmp_path / "in.json", ndjson(RECORDS))
    for option in ("-o", "--rejects"):
        code, out, err = run(capsysbinary, option, tmp_path / "no" / "such" / "dir.json", path)
        assert code == exit_codes.USAGE, err
        assert out == b"" and "Traceback" not in err and "dir.json" in err


def test_a_broken_overlay_stops_everything_with_exit_3(tmp_path, capsysbinary):
    overlay = tmp_path / "overlay"
    write(overlay / "broken.yaml", OVERLAY_UNKNOWN_FUNCTION)
    target = tmp_path / "out.ndjson"
    code, out, err = run(capsysbinary, "--rules", overlay, "-o", target, write(tmp_path / "in.json", ndjson(RECORDS)))
    assert code == exit_codes.RULE_ERROR
    assert f"{overlay}/broken.yaml:6:21: error[E105] unknown function 'lowr'" in err.splitlines()
    assert out == b"" and not target.exists() and not SUMMARY.search(err)


def test_a_rule_failing_on_a_record_is_a_warning_on_that_record(tmp_path, capsysbinary):
    overlay = tmp_path / "overlay"
    write(overlay / "n.yaml", OVERLAY_TO_INT)
    data = ndjson([dict(RECORDS[0], X="12"), dict(RECORDS[1], X="abc"), RECORDS[2]])
    code, out, err = run(capsysbinary, "--rules", overlay, write(tmp_path / "in.json", data))
    assert code == exit_codes.OK
    first, second, third = lines(out)
    assert first["o365.audit.N"] == 12 and "normalizer.warnings" not in first
    assert "o365.audit.N" not in second
    assert second["o365.audit.X"] == "abc"  # the raw value is kept
    (warning,) = second["normalizer.warnings"]
    assert warning["code"] == "E201"
    assert warning["rule"] == "test.to_int" and warning["target"] == "o365.audit.N"
    assert warning["source"] == f"{overlay}/n.yaml:4"
    assert digest([first, second, third]) == EXPECTED  # the other rules still ran
    assert summary(err) == (3, 3, 0, 1)


def test_strict_stops_at_the_first_rule_failure_with_exit_4(tmp_path, capsysbinary):
    overlay = tmp_path / "overlay"
    write(overlay / "n.yaml", OVERLAY_TO_INT)
    data = ndjson([dict(RECORDS[0], X="12"), dict(RECORDS[1], X="abc"), dict(RECORDS[2], X="7")])
    path = write(tmp_path / "in.json", data)
    code, out, err = run(capsysbinary, "--strict", "--rules", overlay, path)
    assert code == exit_codes.STRICT
    (message,) = [line for line in err.splitlines() if "--strict" in line]
    assert "test.to_int" in message and f"{path}:2" in message and "E201" in message
    seqs = [r["o365.audit.Seq"] for r in lines(out)]
    assert seqs[0] == 1 and 3 not in seqs  # stopped at the failing record


def test_strict_without_failures_is_exit_0(tmp_path, capsysbinary):
    overlay = tmp_path / "overlay"
    write(overlay / "n.yaml", OVERLAY_TO_INT)
    path = write(tmp_path / "in.json", ndjson([dict(r, X=str(i)) for i, r in enumerate(RECORDS)]))
    code, out, _ = run(capsysbinary, "--strict", "--rules", overlay, path)
    assert code == 0 and [r["o365.audit.N"] for r in lines(out)] == [0, 1, 2]


# -------------------------------------------------------------------- help


def test_help(capsysbinary):
    code, out, _ = run(capsysbinary, "normalize", "--help")
    assert code == 0 and b"--nested" in out and b"--rejects" in out
    code, out, _ = run(capsysbinary, "--help")
    assert code == 0 and b"normalize" in out and b"explain" in out


# ------------------------------------------------------------------- check


def test_check_on_the_builtin_rules(capsysbinary):
    code, out, err = run(capsysbinary, "check")
    assert code == exit_codes.OK, err
    assert "error[" not in err


def test_check_reports_every_problem_in_a_broken_directory(tmp_path, capsysbinary):
    broken = tmp_path / "broken"
    write(broken / "a.yaml", OVERLAY_UNKNOWN_FUNCTION)
    write(broken / "b.yaml", "version: 1\nstream: audit\nrules:\n  - id: test.b\n    sett:\n      o365.audit.B: .B\n")
    write(broken / "c.yaml", "version: 1\nstream: audit\nrules:\n  - id: test.c\n    set:\n      o365.audit.C: upper(.C\n")
    code, _, err = run(capsysbinary, "check", broken)
    assert code == exit_codes.RULE_ERROR
    found = re.findall(r"^(\S+):(\d+):(\d+): error\[(E\d+)\]", err, re.M)
    assert (f"{broken}/a.yaml", "6", "21", "E105") in found
    assert {(Path(path).name, code) for path, _, _, code in found} >= {("a.yaml", "E105"), ("b.yaml", "E103"), ("c.yaml", "E104")}
    code, _, err = run(capsysbinary, "check", "--rules", broken)
    assert code == exit_codes.RULE_ERROR and "E105" in err


def test_check_on_a_missing_directory(tmp_path, capsysbinary):
    code, _, err = run(capsysbinary, "check", tmp_path / "nope")
    assert code == exit_codes.RULE_ERROR and "E100" in err


# ----------------------------------------------------------------- explain


def _builtin_rule_line(rule_id: str) -> int:
    text = (builtin_rules_dir() / "audit" / "00-common.yaml").read_text().splitlines()
    (line,) = [n for n, t in enumerate(text, 1) if re.fullmatch(rf"\s*-?\s*id:\s*{re.escape(rule_id)}\s*", t)]
    return line


EXPLAIN_OVERLAY = """\
version: 1
stream: audit
rules:
  - id: test.upper
    set:
      o365.audit.OpUpper: upper(.Operation)
  - id: test.never
    when: .NoSuchField == "x"
    set:
      o365.audit.Never: '"x"'
"""


def _attribute_blocks(text: str) -> dict[str, str]:
    """The 'attributes:' section: each attribute with the lines that follow it."""
    section = text.split("\nattributes:\n", 1)[1]
    blocks, key = {}, None
    for line in section.splitlines():
        m = re.match(r"^\s*(\S+) = ", line)
        if m:
            key = m.group(1)
            blocks[key] = line
        elif key:
            blocks[key] += "\n" + line
    return blocks


def test_explain_text(tmp_path, capsysbinary):
    overlay = tmp_path / "overlay"
    write(overlay / "r.yaml", EXPLAIN_OVERLAY)
    path = write(tmp_path / "in.json", ndjson(RECORDS))
    code, out, err = run(capsysbinary, "explain", "--rules", overlay, path)
    assert code == 0, err
    text = out.decode()
    assert "audit" in text.splitlines()[0].replace(str(path), "")  # the stream
    rules = {m.group(2): m.group(1) for m in re.finditer(r"^\s*(applied|skipped)\s+(\S+)", text, re.M)}
    assert rules["audit.common.record_type"] == "applied"
    assert rules["test.upper"] == "applied" and rules["test.never"] == "skipped"
    blocks = _attribute_blocks(text)
    where = f"rules/audit/00-common.yaml:{_builtin_rule_line('audit.common.record_type')}"
    for key in ("o365.audit.RecordType", "o365.audit.RecordTypeName"):
        assert "audit.common.record_type" in blocks[key] and where in blocks[key], blocks[key]
    assert f"rules/audit/00-common.yaml:{_builtin_rule_line('audit.common.timestamp')}" in blocks["@timestamp"]
    assert "test.upper" in blocks["o365.audit.OpUpper"] and f"{overlay}/r.yaml:4" in blocks["o365.audit.OpUpper"]
    assert "passthrough" in blocks["o365.audit.Seq"] and ".Seq" in blocks["o365.audit.Seq"]
    assert "o365.audit.Never" not in blocks


def test_explain_json_and_record_choice(tmp_path, capsysbinary, monkeypatch):
    path = write(tmp_path / "in.json", SHAPES["pretty-array"](RECORDS))
    code, out, _ = run(capsysbinary, "explain", "--json", path)
    assert code == 0
    doc = orjson.loads(out)
    assert doc["stream"] == "audit"
    rules = {r["rule_id"]: r for r in doc["rules"]}
    assert rules["audit.common.record_type"]["applied"] is True
    assert rules["audit.common.record_type"]["source"] == f"rules/audit/00-common.yaml:{_builtin_rule_line('audit.common.record_type')}"
    attrs = {a["key"]: a for a in doc["attributes"]}
    assert attrs["o365.audit.RecordType"]["kind"] == "rule"
    assert attrs["o365.audit.RecordType"]["rule_id"] == "audit.common.record_type"
    assert attrs["o365.audit.RecordType"]["value"] == 1
    assert attrs["o365.audit.Seq"]["kind"] == "passthrough" and attrs["o365.audit.Seq"]["value"] == 1

    code, out, _ = run(capsysbinary, "explain", "--json", "--record", "2", path)
    attrs = {a["key"]: a for a in orjson.loads(out)["attributes"]}
    assert code == 0 and attrs["o365.audit.Seq"]["value"] == 2 and attrs["o365.audit.RecordType"]["value"] == 6

    monkeypatch.setattr(sys, "stdin", _BinaryStdin(ndjson(RECORDS)))
    code, out, _ = run(capsysbinary, "explain", "--json", "--record", "3")
    attrs = {a["key"]: a for a in orjson.loads(out)["attributes"]}
    assert code == 0 and attrs["o365.audit.Seq"]["value"] == 3


def test_explain_errors(tmp_path, capsysbinary):
    path = write(tmp_path / "in.json", b"{oops\n" + ndjson(RECORDS[:1]))
    code, out, err = run(capsysbinary, "explain", "--record", "1", path)
    assert code == exit_codes.REJECTS and out == b"" and "rejected" in err
    code, out, err = run(capsysbinary, "explain", "--record", "5", path)
    assert code == exit_codes.USAGE and out == b""
    code, out, err = run(capsysbinary, "explain", tmp_path / "missing.json")
    assert code == exit_codes.USAGE and out == b""


# -------------------------------------------------------------- rules test

RULE_WITH_EXAMPLE = """\
version: 1
stream: audit
rules:
  - id: test.upper
    set:
      o365.audit.OpUpper: upper(.Operation)
    examples:
      - input: {Operation: "abc"}
        output: {o365.audit.OpUpper: "%s"}
        absent: [o365.audit.Nothing]
"""


def test_rules_test_passes_when_the_examples_hold(tmp_path, capsysbinary):
    write(tmp_path / "mine" / "r.yaml", RULE_WITH_EXAMPLE % "ABC")
    code, out, err = run(capsysbinary, "rules", "test", "-v", tmp_path / "mine")
    assert code == exit_codes.OK, out
    assert "FAIL" not in out.decode() and "test.upper" in out.decode()


def test_rules_test_fails_on_a_wrong_example(tmp_path, capsysbinary):
    write(tmp_path / "mine" / "r.yaml", RULE_WITH_EXAMPLE % "XYZ")
    code, out, _ = run(capsysbinary, "rules", "test", tmp_path / "mine")
    assert code == exit_codes.REJECTS
    text = out.decode()
    (fail,) = [line for line in text.splitlines() if line.startswith("FAIL")]
    assert "test.upper" in fail
    details = text.split(fail, 1)[1]
    assert "o365.audit.OpUpper" in details and "XYZ" in details and "ABC" in details


def test_rules_test_golden_samples(tmp_path, capsysbinary):
    samples = tmp_path / "samples"
    write(samples / "r.yaml", RULE_WITH_EXAMPLE % "ABC")
    case = write(samples / "case.json", SHAPES["pretty-array"](RECORDS) + b"\n!junk\n")
    expected = samples / "case.expected.json"

    # No expected output yet: fails, with a hint.
    code, out, _ = run(capsysbinary, "rules", "test", samples)
    assert code == exit_codes.REJECTS
    text = out.decode()
    assert re.search(r"^FAIL .*case\.json", text, re.M) and "--update" in text and not expected.exists()

    # --update writes it; then it passes.
    code, out, _ = run(capsysbinary, "rules", "test", "--update", samples)
    assert code == exit_codes.OK and expected.exists()
    stored = orjson.loads(expected.read_bytes())
    assert digest(stored["records"]) == EXPECTED
    assert [r["o365.audit.OpUpper"] for r in stored["records"]] == ["SET-MAILBOX", "FILEACCESSED", "USERLOGGEDIN"]
    assert [r["line"] for r in stored["rejects"]] == [case.read_bytes().count(b"\n")]
    code, out, _ = run(capsysbinary, "rules", "test", samples)
    assert code == exit_codes.OK and "FAIL" not in out.decode()

    # A changed expectation fails with a diff line naming the attribute and both values.
    stored["records"][1]["o365.audit.Operation"] = "Changed"
    expected.write_bytes(orjson.dumps(stored))
    code, out, _ = run(capsysbinary, "rules", "test", samples)
    assert code == exit_codes.REJECTS
    (diff,) = [line for line in out.decode().splitlines() if "o365.audit.Operation" in line]
    assert "record 2" in diff and "Changed" in diff and "FileAccessed" in diff


def test_rules_test_samples_only_directory_and_samples_option(tmp_path, capsysbinary):
    only = tmp_path / "only"
    write(only / "a.ndjson", ndjson(RECORDS[:1]))
    code, out, _ = run(capsysbinary, "rules", "test", "--update", only)
    assert code == 0 and (only / "a.expected.json").exists()
    extra = tmp_path / "extra"
    write(extra / "b.json.gz", gzip.compress(ndjson(RECORDS[1:])))
    code, out, _ = run(capsysbinary, "rules", "test", only, "--samples", extra)
    assert code == exit_codes.REJECTS and "b.json.gz" in out.decode()


def test_rules_test_on_a_missing_directory(tmp_path, capsysbinary):
    code, out, err = run(capsysbinary, "rules", "test", tmp_path / "nope")
    assert code == exit_codes.USAGE and out == b"" and "nope" in err


# ------------------------------------------------------- real processes


def test_python_dash_m_help():
    done = run_process("--help")
    assert done.returncode == 0 and b"normalize" in done.stdout and b"exit codes" in done.stdout


def test_process_pipes_stdin_to_stdout(tmp_path):
    data = gzip.compress(SHAPES["odata-v2"](RECORDS))
    done = run_process(stdin=data, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert digest(lines(done.stdout)) == EXPECTED
    assert summary(done.stderr.decode()) == (3, 3, 0, 0)


def test_process_with_rejects_and_files(tmp_path):
    paths = _bad_inputs(tmp_path)
    done = run_process("--rejects", "rejects.ndjson", "-o", "out.ndjson", *[p.name for p in paths], cwd=tmp_path)
    assert done.returncode == exit_codes.REJECTS
    assert done.stdout == b""
    assert [r["o365.audit.Seq"] for r in lines((tmp_path / "out.ndjson").read_bytes())] == [1, 2, 3, 4]
    rejects = lines((tmp_path / "rejects.ndjson").read_bytes())
    assert [(r["source"], r["line"]) for r in rejects] == [("first.ndjson", 2), ("first.ndjson", 4), ("second.json", 3)]
    assert summary(done.stderr.decode()) == (7, 4, 3, 0)


def test_process_missing_file_and_broken_rules(tmp_path):
    done = run_process("missing.json", cwd=tmp_path)
    assert (done.returncode, done.stdout) == (exit_codes.USAGE, b"")
    write(tmp_path / "overlay" / "x.yaml", OVERLAY_UNKNOWN_FUNCTION)
    done = run_process("--rules", "overlay", stdin=ndjson(RECORDS), cwd=tmp_path)
    assert (done.returncode, done.stdout) == (exit_codes.RULE_ERROR, b"")
    assert b"overlay/x.yaml:6:21: error[E105]" in done.stderr


def test_strict_does_not_write_the_failing_record(tmp_path, capsysbinary):
    from normalizer.cli.main import main

    rules = tmp_path / "r"
    rules.mkdir()
    (rules / "r.yaml").write_text("version: 1\nstream: audit\nrules:\n  - id: t.n\n    set:\n      o365.audit.N: to_int(.X)\n")
    src = tmp_path / "in.ndjson"
    src.write_text('{"X": "1"}\n{"X": "abc"}\n{"X": "3"}\n')
    assert main([str(src), "--rules", str(rules), "--strict", "-q"]) == 4
    out = capsysbinary.readouterr().out.decode().splitlines()
    assert len(out) == 1 and '"o365.audit.N":1' in out[0]


def test_output_that_is_an_input_is_refused(tmp_path):
    from normalizer.cli.main import main

    src = tmp_path / "in.ndjson"
    src.write_text('{"X": "1"}\n')
    assert main([str(src), "-o", str(src)]) == 2
    assert src.read_text() == '{"X": "1"}\n'


def test_explain_record_zero_is_a_usage_error(tmp_path):
    from normalizer.cli.main import main

    src = tmp_path / "in.ndjson"
    src.write_text('{"X": "1"}\n')
    assert main(["explain", str(src), "--record", "0"]) == 2


def test_records_from_a_live_pipe_come_out_without_waiting_for_more_input():
    """As a filter on a quiet live stream (`tail -f`, a consumer piped in), a record is written
    as soon as its line has arrived: not after a full input chunk, not at end of input."""
    import select

    proc = subprocess.Popen([sys.executable, "-m", "normalizer", "-q"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        for n in (1, 2):
            proc.stdin.write(orjson.dumps({"Id": str(n), "RecordType": 15, "CreationTime": "2026-01-01T00:00:00"}) + b"\n")
            proc.stdin.flush()
            ready, _, _ = select.select([proc.stdout], [], [], 60)  # start-up included; the input stays open
            assert ready, f"record {n} did not come out while the input was quiet"
            assert orjson.loads(proc.stdout.readline())["o365.audit.Id"] == str(n)
    finally:
        proc.stdin.close()
        proc.wait(timeout=60)
    assert proc.returncode == 0


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_directory_of_more_files_than_may_be_open_at_once(tmp_path, jobs):
    """Offline dumps are often thousands of content blobs: inputs are opened one at a time."""
    import resource

    for n in range(300):
        (tmp_path / f"blob{n:04d}.json").write_bytes(orjson.dumps([{"Id": str(n), "RecordType": 15}]))

    def few_files():
        resource.setrlimit(resource.RLIMIT_NOFILE, (64, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))

    proc = subprocess.run([sys.executable, "-m", "normalizer", str(tmp_path), "-j", jobs], capture_output=True,
                          preexec_fn=few_files, check=False)
    assert proc.returncode == 0, proc.stderr
    assert [orjson.loads(line)["o365.audit.Id"] for line in proc.stdout.splitlines()] == [str(n) for n in range(300)]


def test_an_input_that_disappears_before_its_turn(tmp_path, capsys, monkeypatch):
    """Inputs are checked at the start, opened when their turn comes: one gone by then stops
    the run with exit 2 and its name; what came before it is written."""
    from normalizer.cli import normalize_cmd

    first, second = tmp_path / "a.ndjson", tmp_path / "b.ndjson"
    first.write_bytes(b'{"Id": "1"}\n')
    second.write_bytes(b'{"Id": "2"}\n')
    out = tmp_path / "out.ndjson"
    real_open, opened = normalize_cmd.open_input, []

    def open_input(path):
        opened.append(path)
        if path == str(second) and opened.count(path) == 2:  # fine when checked, gone at its turn
            second.unlink()
        return real_open(path)

    monkeypatch.setattr(normalize_cmd, "open_input", open_input)
    assert main([str(first), str(second), "-o", str(out)]) == exit_codes.USAGE
    assert f"cannot read input {second}" in capsys.readouterr().err
    assert [orjson.loads(line)["o365.audit.Id"] for line in out.read_bytes().splitlines()] == ["1"]
    assert main([str(first), "/nonexistent/x.ndjson"]) == exit_codes.USAGE  # checked before anything is read
    assert "cannot read input /nonexistent/x.ndjson" in capsys.readouterr().err


@pytest.fixture(scope="module")
def big_input(tmp_path_factory):
    from normalizer.bench import corpus

    path = tmp_path_factory.mktemp("big") / "big.ndjson"
    path.write_bytes(b"\n".join(corpus(5000) * 20) + b"\n")  # 100,000 records: seconds of work
    return path


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_piped_into_head_stops_quietly(big_input, jobs):
    proc = subprocess.Popen([sys.executable, "-m", "normalizer", str(big_input), "-j", jobs],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert orjson.loads(proc.stdout.readline())  # like `| head -1`: one record, then the pipe closes
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait(timeout=120) == 0 and err == b""


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_ctrl_c_exits_130_with_whole_records_written(big_input, tmp_path, jobs):
    import signal
    import time

    out = tmp_path / "out.ndjson"
    proc = subprocess.Popen([sys.executable, "-m", "normalizer", str(big_input), "-j", jobs, "-o", str(out)],
                            stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while (not out.exists() or out.stat().st_size == 0) and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    err = proc.stderr.read()
    assert proc.wait(timeout=120) == 130
    assert b"o365norm: interrupted" in err and b"Traceback" not in err
    lines = out.read_bytes().splitlines()
    assert 0 < len(lines) < 100_000 and all(orjson.loads(line) for line in lines)  # stopped early, nothing half-written
