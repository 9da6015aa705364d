"""The Spark adapter in a real local[2] session: the same records and rejects as the command line.

One SparkSession for the module (JVM start-up dominates); the job runs in this process
through ``job.main``, which reuses the active session, and once through spark-submit.
"""

from __future__ import annotations

import functools
import gzip
import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

pyspark = pytest.importorskip("pyspark")

from normalizer.bench import corpus  # noqa: E402
from normalizer.pipeline import DUMP_OPTIONS  # noqa: E402
from normalizer.ruleset import load_ruleset  # noqa: E402
from normalizer.spark import make_partition_normalizer, records, rejects, total_counts  # noqa: E402
from normalizer.spark import executor_rules, held_rejects  # noqa: E402
from normalizer.spark import job  # noqa: E402
from normalizer.spark.session import MISSING_PYSPARK, require_pyspark  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
OVERLAY_RULES = """version: 1
stream: audit
rules:
  - id: test.spark.shipped
    set:
      o365.audit.Shipped: '"from the driver"'
  - id: test.spark.number
    set:
      o365.audit.OperationNumber: to_int(.Operation)
"""


@pytest.fixture(scope="module")
def spark():
    from pyspark.sql import SparkSession

    saved = os.environ.get("PYSPARK_PYTHON")
    os.environ["PYSPARK_PYTHON"] = sys.executable  # the workers need this interpreter (it has o365norm)
    session = (SparkSession.builder.master("local[2]").appName("o365norm-tests")
               .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false").getOrCreate())
    yield session
    session.stop()
    if saved is None:
        os.environ.pop("PYSPARK_PYTHON", None)
    else:
        os.environ["PYSPARK_PYTHON"] = saved


@pytest.fixture(scope="module")
def corpus_files(tmp_path_factory):
    """5,000 generated records as NDJSON with three damaged lines, and as a gzipped JSON array."""
    d = tmp_path_factory.mktemp("corpus")
    lines = corpus(5000)
    damaged = list(lines)
    damaged[10] = b'{"RecordType": 15, "Id": '  # cut short
    damaged[2500] = b"42"
    damaged[4999] = b""
    (d / "corpus.ndjson").write_bytes(b"\n".join(damaged) + b"\n")
    (d / "corpus.json.gz").write_bytes(gzip.compress(b"[\n" + b",\n".join(lines) + b"\n]\n"))
    return d


@functools.lru_cache(maxsize=None)
def cli(*args: str) -> tuple[int, list[bytes], list[dict]]:
    """The single-process command line: exit code, record lines, rejects (remembered: tests share runs)."""
    proc = subprocess.run([sys.executable, "-m", "normalizer", *args, "-o", "-", "--rejects", "/dev/fd/2", "-q"],
                          capture_output=True, check=False, cwd=ROOT)
    return proc.returncode, proc.stdout.splitlines(), [orjson.loads(line) for line in proc.stderr.splitlines()]


def run_job(tmp_path: Path, *args: str, capsys=None) -> tuple[int, list[bytes], list[dict]]:
    """The Spark job in this process: exit code, record lines (part files in order), rejects."""
    out, rej = tmp_path / "out", tmp_path / "rejects"
    code = job.main([*args, "--output", str(out), "--rejects", str(rej)])
    return code, _parts(out), [orjson.loads(line) for line in _parts(rej)]


def _parts(directory: Path) -> list[bytes]:
    if not directory.exists():
        return []
    return [line for part in sorted(directory.glob("part-*")) for line in part.read_bytes().splitlines()]


def _key(reject: dict) -> tuple:
    return reject["source"], reject["line"], reject["reason"]


# ------------------------------------------------------------------ the job against the command line


@pytest.mark.parametrize("shape", [[], ["--nested"]], ids=["flat", "nested"])
def test_samples_give_the_command_lines_records_and_rejects(spark, tmp_path, capsys, monkeypatch, shape):
    if shape:  # and with every reject sent through the second pass
        monkeypatch.setattr(held_rejects, "HELD_BYTES", 0)
        monkeypatch.setattr(held_rejects, "MIN_HELD_BYTES", 0)
    expected = cli(str(SAMPLES), *shape)
    capsys.readouterr()
    code, lines, rejected = run_job(tmp_path, str(SAMPLES), *shape)
    assert code == expected[0] == 1  # samples/edge_cases holds deliberate rejects
    assert sorted(lines) == sorted(expected[1]) and len(lines) == 166
    assert sorted(rejected, key=_key) == sorted(expected[2], key=_key) and len(rejected) == 9
    assert "175 records in, 166 out, 9 rejected, 7 with warnings" in capsys.readouterr().err


def test_generated_corpus_whole_files(spark, tmp_path, corpus_files):
    files = [str(corpus_files / "corpus.ndjson"), str(corpus_files / "corpus.json.gz")]
    expected = cli(*files)
    code, lines, rejected = run_job(tmp_path, *files, "--partitions", "4")
    assert code == expected[0] == 1
    assert sorted(lines) == sorted(expected[1]) and len(lines) == 4997 + 5000
    assert rejected == expected[2] and [r["line"] for r in rejected] == [11, 2501]


@pytest.mark.parametrize("held", [True, False], ids=["rejects-held", "rejects-overflow"])
def test_generated_corpus_split_by_line_keeps_order_and_line_numbers(spark, tmp_path, corpus_files, monkeypatch, held):
    if not held:  # every partition with a reject overflows: the second pass normalizes those again
        monkeypatch.setattr(held_rejects, "HELD_BYTES", 0)
        monkeypatch.setattr(held_rejects, "MIN_HELD_BYTES", 0)
    files = [str(corpus_files / "corpus.ndjson"), str(corpus_files / "corpus.json.gz")]
    expected = cli(*files)
    code, lines, rejected = run_job(tmp_path, *files, "--split-lines", "--partitions", "4")
    assert len(list((tmp_path / "out").glob("part-*"))) > 2  # the NDJSON file was really split
    assert (code, lines, rejected) == expected  # part files in order: the command line's output, line for line


def test_split_lines_refuses_pretty_printed_ndjson(spark, tmp_path, capsys):
    pretty = tmp_path / "pretty.ndjson"
    pretty.write_text('[\n  {"RecordType": 15}\n]\n')
    code, _, _ = run_job(tmp_path, str(pretty), "--split-lines")
    assert code == 2
    assert "pretty.ndjson starts with a JSON document spread over lines" in capsys.readouterr().err
    assert run_job(tmp_path / "whole", str(pretty))[:2] == (0, cli(str(pretty))[1])  # read whole, it works


# ------------------------------------------------------------------ the mapPartitions function


def test_partition_function_equals_normalize_flat(spark):
    raw = corpus(300)
    lines = [line.decode() for line in raw[:100]] + ["", "not json", "[1, 2]"] + [line.decode() for line in raw[100:]]
    tagged = spark.sparkContext.parallelize(lines, 3).mapPartitions(make_partition_normalizer()).cache()
    ruleset = load_ruleset()
    assert records(tagged).collect() == [orjson.dumps(ruleset.normalize_flat(orjson.loads(r)), option=DUMP_OPTIONS)[:-1]
                                         for r in raw]
    found = [orjson.loads(line) for line in rejects(tagged).collect()]
    assert [(r["source"], r["line"], r["reason"][:12], r["raw"]) for r in found] == [  # lines count per partition
        ("<spark partition 1>", 1, "invalid JSON", "not json"),  # partition 1 starts at element 101
        ("<spark partition 1>", 2, "record is no", "1"),
        ("<spark partition 1>", 2, "record is no", "2"),
    ]
    counts = total_counts(tagged)
    assert (counts.records_in, counts.records_out, counts.rejected) == (303, 300, 3)


def test_partition_function_nested_and_bytes(spark):
    raw = corpus(20)
    tagged = spark.sparkContext.parallelize(raw, 2).mapPartitions(make_partition_normalizer(nested=True))
    ruleset = load_ruleset()
    assert records(tagged).collect() == [
        orjson.dumps(ruleset.normalize(orjson.loads(r)), option=DUMP_OPTIONS)[:-1] for r in raw
    ]


def test_rules_compile_once_per_worker_process(spark):
    normalize = make_partition_normalizer(collection_cap=77)  # a configuration no other test uses
    key = normalize.config.key()

    def probe(lines):
        for _ in normalize(lines):
            pass
        yield os.getpid(), executor_rules.builds.get(key, 0), sum(executor_rules.builds.values())

    rdd = spark.sparkContext.parallelize([line.decode() for line in corpus(160)], 16)
    seen = rdd.mapPartitions(probe).collect() + rdd.mapPartitions(probe).collect()  # two jobs, 32 partitions
    assert len(seen) == 32
    assert all(builds == 1 for _, builds, _ in seen)
    totals = {}  # every rule set this worker ever compiled: the same after each of its partitions
    for pid, _, total in seen:
        totals.setdefault(pid, set()).add(total)
    assert all(len(t) == 1 for t in totals.values()), totals


# ------------------------------------------------------------------ rules shipped from the driver


def test_overlay_rules_are_shipped_not_read_on_executors(spark, tmp_path):
    overlay = tmp_path / "my-rules"
    overlay.mkdir()
    (overlay / "spark.yaml").write_text(OVERLAY_RULES)
    normalize = make_partition_normalizer(rules=[str(overlay)])
    (overlay / "spark.yaml").unlink()
    overlay.rmdir()  # gone before any task runs: the executors must use the shipped copy
    line = b'{"RecordType": 15, "Operation": "UserLoggedIn"}'
    (out,) = records(spark.sparkContext.parallelize([line], 1).mapPartitions(normalize)).collect()
    flat = orjson.loads(out)
    assert flat["o365.audit.Shipped"] == "from the driver"
    assert flat["normalizer.warnings"][0]["source"] == f"{overlay}/spark.yaml:7"  # the driver's name for the file


def test_job_with_overlay_rules_equals_command_line(spark, tmp_path):
    overlay = tmp_path / "my-rules"
    overlay.mkdir()
    (overlay / "spark.yaml").write_text(OVERLAY_RULES)
    inputs = str(SAMPLES / "azuread")
    expected = cli(inputs, "--rules", str(overlay))
    code, lines, rejected = run_job(tmp_path, inputs, "--rules", str(overlay))
    assert (code, sorted(lines), rejected) == (expected[0], sorted(expected[1]), expected[2])
    assert all(b'"o365.audit.Shipped":"from the driver"' in line for line in lines if b"o365.audit." in line)


def test_broken_overlay_fails_on_the_driver_with_its_position(spark, tmp_path, capsys):
    overlay = tmp_path / "bad-rules"
    overlay.mkdir()
    (overlay / "bad.yaml").write_text(OVERLAY_RULES.replace("to_int(", "int("))
    code, _, _ = run_job(tmp_path, str(SAMPLES / "azuread"), "--rules", str(overlay))
    err = capsys.readouterr().err
    assert code == 3
    assert f"{overlay}/bad.yaml:9:35: error[E105] unknown function 'int'" in err
    assert "nothing was processed" in err and not (tmp_path / "out").exists()


# ------------------------------------------------------------------ inputs, outputs, errors


def test_usage_errors(spark, tmp_path, capsys):
    assert run_job(tmp_path, str(tmp_path / "nowhere"))[0] == 2
    assert "cannot read input" in capsys.readouterr().err
    (tmp_path / "out").mkdir()
    assert run_job(tmp_path, str(SAMPLES / "azuread"))[0] == 2
    assert "already exists" in capsys.readouterr().err


def test_hidden_files_are_reported_not_dropped_silently(spark, tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.ndjson").write_bytes(corpus(3)[0] + b"\n")
    (data / "_b.ndjson").write_bytes(corpus(3)[1] + b"\n")
    code, lines, _ = run_job(tmp_path, str(data))
    assert code == 1 and len(lines) == 1
    assert f"skipped {data}/_b.ndjson" in capsys.readouterr().err


def test_importing_the_adapter_does_not_import_pyspark():
    code = "import sys, normalizer.spark; assert 'pyspark' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_missing_pyspark_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyspark", None)  # import pyspark now raises ImportError
    with pytest.raises(ImportError, match=r"pip install 'o365norm\[spark\]'"):
        require_pyspark()
    assert "o365norm[spark]" in MISSING_PYSPARK


def test_spark_submit_runs_the_job_file(spark, tmp_path):
    submit = Path(pyspark.__file__).parent / "bin" / "spark-submit"
    inputs = str(SAMPLES / "edge_cases")
    env = dict(os.environ, PYSPARK_PYTHON=sys.executable, PYSPARK_DRIVER_PYTHON=sys.executable)
    proc = subprocess.run(
        [str(submit), "--master", "local[2]", "--conf", "spark.ui.enabled=false",
         str(ROOT / "normalizer" / "spark" / "job.py"), inputs,
         "--output", str(tmp_path / "out"), "--rejects", str(tmp_path / "rejects")],
        capture_output=True, check=False, env=env, cwd=tmp_path, timeout=300,
    )
    expected = cli(inputs)
    assert proc.returncode == expected[0] == 1, proc.stderr.decode()[-3000:]
    assert sorted(_parts(tmp_path / "out")) == sorted(expected[1])
    assert sorted((orjson.loads(r) for r in _parts(tmp_path / "rejects")), key=_key) == sorted(expected[2], key=_key)
    assert b"60 records in, 51 out, 9 rejected" in proc.stdout  # spark-submit sends the Python driver's stderr there


def test_a_failed_spark_job_exits_5(spark, tmp_path, capsys):
    (tmp_path / "a-file").write_text("")
    code = job.main([str(SAMPLES / "azuread"), "--output", str(tmp_path / "a-file" / "out"), "--rejects", str(tmp_path / "r")])
    assert code == job.SPARK_FAILED
    assert "the Spark job failed" in capsys.readouterr().err
