"""The fetcher writing straight to Kafka (``output:Kafka:<id>``): a collector box feeding a
normalizer fleet.  The fake Microsoft 365 service on one side, Tansu on the other."""

from __future__ import annotations

import orjson

from fake_m365 import SECRET, audit_record, write_config
from fake_m365.fixtures import clock, fake, no_proxy_env, run_fetch, tls  # noqa: F401

DAY = 86400


def _kafka_config(tmp_path, fake, tls, broker, topic, *, normalize=True, extra=""):
    cfg = write_config(tmp_path / "fetch.yaml", fake, tls, tmp_path / "state", normalize=normalize, trace=False,
                       content_types="Audit.Exchange")
    text = cfg.read_text(encoding="utf-8").replace("output: console", "output: fleet")
    text = text[: text.index("output:Stdout:console:")]
    text += (f"output:Kafka:fleet:\n  bootstrap_servers: {broker.bootstrap}\n  topic: {topic}\n"
             f"  normalize: {'true' if normalize else 'false'}\n{extra}")
    cfg.write_text(text, encoding="utf-8")
    return cfg


def _fill(fake, now, n):
    records = [audit_record(i, "Exchange", created=now - 3600) for i in range(n)]
    for i in range(0, n, 10):
        fake.add_blob("Audit.Exchange", now - 3600 + i, records[i:i + 10])
    return records


def test_fetched_records_reach_the_topic_normalized_and_keyed(tmp_path, fake, tls, clock, broker):
    (topic,) = broker.topics("o365", partitions=2)
    records = _fill(fake, clock.now(), 30)
    status, out, err, _ = run_fetch(_kafka_config(tmp_path, fake, tls, broker, topic), clock)
    assert status == 0, err
    assert out == b""  # nothing on stdout: the records went to Kafka
    msgs = broker.read(topic, expect=len(records))
    assert len(msgs) == len(records)
    docs = {m.key(): orjson.loads(m.value()) for m in msgs}
    assert set(docs) == {f"a:{r['Id']}".encode() for r in records}
    assert all(d["o365.audit.Id"] == k.decode()[2:] and d["o365.audit.Workload"] == "Exchange" for k, d in docs.items())

    # a second pass sends only what is new: progress is saved after the broker acknowledged
    more = [audit_record(100 + i, "Exchange", created=clock.now() - 60) for i in range(5)]
    fake.add_blob("Audit.Exchange", clock.now() - 60, more)
    clock.advance(600)
    status, _, err, _ = run_fetch(_kafka_config(tmp_path, fake, tls, broker, topic), clock)
    assert status == 0, err
    assert len(broker.read(topic, expect=len(records) + 5)) == len(records) + 5


def test_raw_records_go_as_sent(tmp_path, fake, tls, clock, broker):
    (topic,) = broker.topics("o365raw", partitions=1)
    records = _fill(fake, clock.now(), 10)
    status, _, err, _ = run_fetch(_kafka_config(tmp_path, fake, tls, broker, topic, normalize=False), clock)
    assert status == 0, err
    sent = sorted(orjson.loads(m.value())["Id"] for m in broker.read(topic, expect=10))
    assert sent == sorted(r["Id"] for r in records)


def test_an_unreachable_broker_stops_without_saving_progress(tmp_path, fake, tls, clock, broker):
    records = _fill(fake, clock.now(), 10)
    cfg = _kafka_config(tmp_path, fake, tls, broker, "t", extra="  properties:\n    message.timeout.ms: 1500\n")
    cfg.write_text(cfg.read_text().replace(broker.bootstrap, "127.0.0.1:9"), encoding="utf-8")
    status, _, err, _ = run_fetch(cfg, clock)
    assert status == 1
    assert "output fleet: delivery failed: Local: Message timed out" in err, err
    assert SECRET not in err
    # nothing was marked done: a later run with a working broker sends every record
    (topic,) = broker.topics("o365late", partitions=1)
    cfg = _kafka_config(tmp_path, fake, tls, broker, topic)
    status, _, err, _ = run_fetch(cfg, clock)
    assert status == 0, err
    assert len(broker.read(topic, expect=len(records))) == len(records)
