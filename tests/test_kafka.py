"""``o365norm kafka`` against a real Kafka-protocol broker (Tansu) on loopback.

Each test runs the stage as a subprocess, the way it is deployed, and checks what reached
the output and dead-letter topics and what the group committed: a full pass, a SIGKILL in the
middle and a restart (nothing lost), SIGTERM (flushed and committed: nothing twice), two
instances in one group, and the client-settings errors.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from collections import Counter

import orjson
import pytest

from kafka_support import Broker, stage_command, start_stage, wait_for
from normalizer.bench import corpus
from normalizer.kafka.messages import record_key
from normalizer.ruleset import load_ruleset

CANARY = "kafka-CANARY-secret-9f2c"


@pytest.fixture(scope="module")
def rules():
    return load_ruleset([])


def expected_value(rules, record: dict) -> bytes:
    return orjson.dumps(rules.normalize_flat(record), option=orjson.OPT_SORT_KEYS)


def produce_spread(broker: Broker, topic: str, lines: list[bytes], partitions: int = 3) -> dict[int, int]:
    """Produce ``lines`` round-robin over the partitions; returns messages per partition."""
    per: dict[int, list[bytes]] = {p: lines[p::partitions] for p in range(partitions)}
    for p, values in per.items():
        broker.produce(topic, values, partition=p)
    return {p: len(v) for p, v in per.items()}


def summary_counts(stderr: str) -> dict[str, int]:
    m = re.search(r"(\d+) messages, (\d+) records in, (\d+) out, (\d+) to the dead-letter topic", stderr)
    assert m, stderr
    return dict(zip(("messages", "in", "out", "dead"), map(int, m.groups())))


def run_stage(cmd: list[str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


# ------------------------------------------------------------------------------------------ full pass

def test_full_pass_normalizes_every_shape_and_dead_letters_the_rest(broker, rules, tmp_path):
    topic, out, dlq = broker.topics("raw", "norm", "dlq")
    records = [orjson.loads(x) for x in corpus(1500)]
    blob = corpus(4, seed=11)  # a content blob (JSON array) in one message
    good_line, *_ = corpus(1, seed=12)
    messages = [orjson.dumps(r) for r in records] + [
        b"[" + b",".join(blob) + b"]",
        good_line + b"\n{broken\n",  # NDJSON in one message: one record, one reject at line 2
        b'{"value": [' + b",".join(corpus(2, seed=13)) + b'], "@odata.nextLink": "x"}',  # a Graph page
        b"42", b"", None, b'{"Id": "cut',
    ]
    per_partition = produce_spread(broker, topic, messages)

    done = run_stage(stage_command(broker, "g-full", topic, out, dlq, "--stop-when-idle", "2"))

    assert done.returncode == 0, done.stderr
    inputs = records + [orjson.loads(x) for x in blob] + [orjson.loads(good_line)] + [orjson.loads(x) for x in corpus(2, seed=13)]
    counts = summary_counts(done.stderr)
    assert counts == {"messages": len(messages), "in": len(inputs) + 5, "out": len(inputs), "dead": 5}

    produced = broker.read(out, expect=len(inputs))
    assert Counter(m.value() for m in produced) == Counter(expected_value(rules, r) for r in inputs)
    key_of = {expected_value(rules, r): record_key(r) for r in inputs}
    assert all(m.key() == key_of[m.value()] for m in produced)  # audit Id / trace id + recipient
    assert any(m.key().startswith(b"a:") for m in produced) and any(m.key().startswith(b"m:") for m in produced)

    dead = [orjson.loads(m.value()) for m in broker.read(dlq, expect=5)]
    assert len(dead) == 5
    reasons = sorted(d["reason"] for d in dead)
    assert any("not a JSON object" in r for r in reasons)
    assert any("tombstone" in r for r in reasons) and any("empty" in r for r in reasons)
    ndjson_reject = next(d for d in dead if d["raw"].startswith("{broken"))
    assert ndjson_reject["line"] == 2
    for d in dead:  # each says exactly where its message was
        assert d["source"] == f"{d['topic']}[{d['partition']}]@{d['offset']}"
        assert d["topic"] == topic and 0 <= d["offset"] < per_partition[d["partition"]]

    assert broker.committed("g-full", topic) == per_partition


def test_nested_output_and_overlay_rules(broker, tmp_path):
    topic, out, dlq = broker.topics("raw", "norm", "dlq", partitions=1)
    overlay = tmp_path / "overlay"
    (overlay / "audit").mkdir(parents=True)
    (overlay / "audit" / "90-tag.yaml").write_text(
        "version: 1\nstream: audit\nrules:\n  - id: test.tag\n    set:\n      o365.audit.Tag: '\"kafka\"'\n", encoding="utf-8")
    broker.produce(topic, corpus(20))
    done = run_stage(stage_command(broker, "g-nested", topic, out, dlq, "--stop-when-idle", "2", "--nested",
                                   "--rules", str(overlay)))
    assert done.returncode == 0, done.stderr
    docs = [orjson.loads(m.value()) for m in broker.read(out, expect=20)]
    assert len(docs) == 20
    audit = [d for d in docs if "audit" in d.get("o365", {})]
    assert audit and all(d["o365"]["audit"]["Tag"] == "kafka" for d in audit)


# ------------------------------------------------------------------------------- at-least-once proofs

def _big_topic(broker, n, partitions=3):
    topic, out, dlq = broker.topics("raw", "norm", "dlq", partitions=partitions)
    lines = corpus(n, seed=5)
    return topic, out, dlq, lines, produce_spread(broker, topic, lines, partitions)


def test_killed_with_sigkill_mid_stream_then_restarted_loses_nothing(broker, rules, tmp_path):
    topic, out, dlq, lines, per_partition = _big_topic(broker, 30000)
    # deliveries held back 1.5 s in the producer: a stage that committed what it had consumed
    # rather than what the broker acknowledged would lose records in this kill (checked)
    cmd = stage_command(broker, "g-kill", topic, out, dlq, "--stop-when-idle", "3", "--producer-property", "linger.ms=1500")
    proc = start_stage(cmd, tmp_path / "first.log")
    try:
        # wait for the first commit, then kill at once: some offsets committed, most not
        committed = wait_for(lambda: broker.committed("g-kill", topic), 90, 0.05, "a first commit")
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        proc.kill()
    assert sum(committed.values()) < len(lines), "the stage finished before it could be killed: the test proves nothing"
    first_run = len(broker.read(out, quiet=1.0))

    again = run_stage(cmd)
    assert again.returncode == 0, again.stderr

    produced = broker.read(out, expect=len(lines))
    values = Counter(m.value() for m in produced)
    expected = Counter(expected_value(rules, orjson.loads(x)) for x in lines)
    assert set(values) == set(expected), "a record was lost (or changed) across the kill"
    assert sum(values.values()) >= len(lines)
    # re-delivered copies carry the same key as the first, so they land on the same partition
    by_key: dict[bytes, set[int]] = {}
    for m in produced:
        by_key.setdefault(m.key(), set()).add(m.partition())
    assert all(len(parts) == 1 for parts in by_key.values())
    assert broker.committed("g-kill", topic) == per_partition
    assert first_run > 0 and summary_counts(again.stderr)["messages"] <= len(lines)


def test_sigterm_delivers_and_commits_so_a_restart_repeats_nothing(broker, rules, tmp_path):
    topic, out, dlq, lines, per_partition = _big_topic(broker, 30000)
    cmd = stage_command(broker, "g-term", topic, out, dlq, "--stop-when-idle", "3")
    proc = start_stage(cmd, tmp_path / "first.log")
    try:
        wait_for(lambda: broker.committed("g-term", topic), 90, 0.05, "a first commit")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0, (tmp_path / "first.log").read_text()
    finally:
        proc.kill()
    first = summary_counts((tmp_path / "first.log").read_text())
    committed = broker.committed("g-term", topic)
    assert sum(committed.values()) == first["messages"] < len(lines)
    assert len(broker.read(out, expect=first["out"], quiet=1.0)) == first["out"]

    again = run_stage(cmd)
    assert again.returncode == 0, again.stderr
    produced = broker.read(out, expect=len(lines))
    assert len(produced) == len(lines), "a clean stop must not make the restart repeat records"
    assert Counter(m.value() for m in produced) == Counter(expected_value(rules, orjson.loads(x)) for x in lines)
    assert broker.committed("g-term", topic) == per_partition


def test_two_instances_in_one_group_split_the_partitions(broker, rules, tmp_path):
    topic, out, dlq, lines, per_partition = _big_topic(broker, 20000, partitions=4)
    cmd = stage_command(broker, "g-pair", topic, out, dlq, "--stop-when-idle", "4")
    procs = [start_stage(cmd, tmp_path / f"stage{i}.log") for i in range(2)]
    try:
        for p in procs:
            assert p.wait(180) == 0
    finally:
        for p in procs:
            p.kill()
    logs = [(tmp_path / f"stage{i}.log").read_text() for i in range(2)]
    counts = [summary_counts(log) for log in logs]
    assert all(c["messages"] > 0 for c in counts), logs  # both did part of the work
    final_assignments = [re.findall(r"assigned \S+ partitions ([\d,]+)", log)[-1] for log in logs]
    parts = [set(map(int, a.split(","))) for a in final_assignments]
    assert parts[0].isdisjoint(parts[1]) and parts[0] | parts[1] == {0, 1, 2, 3}, final_assignments
    produced = broker.read(out, expect=len(lines))
    assert set(m.value() for m in produced) == {expected_value(rules, orjson.loads(x)) for x in lines}
    assert broker.committed("g-pair", topic, partitions=4) == per_partition


# --------------------------------------------------------------------------------- settings and secrets

def _cli(*args: str) -> subprocess.CompletedProcess:
    base = ["--bootstrap-servers", "127.0.0.1:1", "--group", "g", "--topic", "t", "--output-topic", "o",
            "--dead-letter-topic", "d"]
    return subprocess.run([sys.executable, "-m", "normalizer", "kafka", *base, *args], capture_output=True, text=True,
                          timeout=60)


def test_auto_commit_cannot_be_turned_on():
    done = _cli("-X", "enable.auto.commit=true")
    assert done.returncode == 2
    assert "enable.auto.commit" in done.stderr and "acknowledged" in done.stderr


def test_bad_client_settings_are_a_usage_error_without_the_secret(tmp_path):
    props = tmp_path / "client.properties"
    props.write_text(f"# comment\nsecurity.protocol=SASL_SSL\nsasl.password={CANARY}\nno.such.property=1\n", encoding="utf-8")
    done = _cli("--properties", str(props))
    assert done.returncode == 2
    assert "no.such.property" in done.stderr
    assert CANARY not in done.stderr + done.stdout


def test_malformed_property_names_the_option():
    done = _cli("-X", "justakey")
    assert done.returncode == 2 and "-X: expected key=value" in done.stderr


def test_startup_line_masks_secret_properties(broker, tmp_path):
    topic, out, dlq = broker.topics("raw", "norm", "dlq", partitions=1)
    broker.produce(topic, corpus(3))
    done = run_stage(stage_command(broker, "g-mask", topic, out, dlq, "--stop-when-idle", "1",
                                   "--producer-property", f"sasl.password={CANARY}"))
    assert done.returncode == 0, done.stderr
    assert "sasl.password=***" in done.stderr
    assert CANARY not in done.stderr + done.stdout


def test_help_describes_the_guarantee():
    done = subprocess.run([sys.executable, "-m", "normalizer", "kafka", "--help"], capture_output=True, text=True)
    assert done.returncode == 0
    assert "at-least-once" in done.stdout and "--dead-letter-topic" in done.stdout


# ------------------------------------------------------------------------------------ oversized records

def test_a_record_too_large_for_the_topic_goes_to_the_dead_letter_topic(broker, rules):
    topic, out, dlq = broker.topics("raw", "norm", "dlq", partitions=1)
    small = corpus(3, seed=21)
    big = orjson.loads(corpus(1, seed=22)[0])
    big["Comment"] = "x" * 400_000  # its normalized form exceeds the producer's 300 KB limit
    broker.produce(topic, [small[0], orjson.dumps(big), small[1], small[2]])
    done = run_stage(stage_command(broker, "g-big", topic, out, dlq, "--stop-when-idle", "2",
                                   "--producer-property", "message.max.bytes=300000"))
    assert done.returncode == 0, done.stderr
    assert summary_counts(done.stderr) == {"messages": 4, "in": 4, "out": 3, "dead": 1}
    (dead,) = [orjson.loads(m.value()) for m in broker.read(dlq, expect=1)]
    assert "cannot produce the normalized record" in dead["reason"] and dead["offset"] == 1
    assert dead["raw_truncated"] is True and len(dead["raw"]) == 256 * 1024
    assert broker.committed("g-big", topic, partitions=1) == {0: 4}


def test_a_reject_that_cannot_be_produced_stops_the_stage_before_its_offset(broker):
    topic, out, dlq = broker.topics("raw", "norm", "dlq", partitions=1)
    good = corpus(2, seed=23)
    broker.produce(topic, [good[0], b"not json " * 300, good[1]])
    done = run_stage(stage_command(broker, "g-stuck", topic, out, dlq, "--stop-when-idle", "2",
                                   "--producer-property", "message.max.bytes=2000"))
    assert done.returncode == 1, done.stderr
    assert f"cannot produce a reject of {topic}[0]@1 to {dlq}" in done.stderr
    assert broker.committed("g-stuck", topic, partitions=1) == {0: 1}  # up to the stuck message, never past it
