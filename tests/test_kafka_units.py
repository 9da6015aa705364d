"""The Kafka pieces that need no broker: commit points, message decoding, keys, properties,
and the fetcher's ``output:Kafka`` configuration."""

from __future__ import annotations

import gzip

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from normalizer.fetch.config import ConfigError, parse_config
from normalizer.kafka.messages import dead_letter, items_of, record_key
from normalizer.kafka.offsets import PartitionProgress
from normalizer.kafka.properties import PropertyError, describe, parse_assignment, read_properties_file, scrub
from normalizer.readers import Reject

# ---------------------------------------------------------------------------------- commit points


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 3), min_size=1, max_size=30), st.randoms(use_true_random=False), st.data())
def test_commit_point_never_passes_a_message_still_in_flight(fanout, rnd, data):
    """Messages at offsets 100.. each produce ``fanout[i]`` records; deliveries arrive in any
    order, with commits taken at any moment: the commit point never reaches past an offset
    with a delivery outstanding, and ends after the last offset."""
    progress = PartitionProgress()
    pending = []
    for i, n in enumerate(fanout):
        progress.consumed(100 + i, n)
        pending += [100 + i] * n
    rnd.shuffle(pending)
    outstanding = {100 + i: n for i, n in enumerate(fanout)}
    committed = None
    for offset in pending:
        if data.draw(st.booleans()):
            point = progress.commit_point()
            if point is not None:
                committed = point
                progress.mark_committed(point)
            if committed is not None:
                assert all(outstanding[o] == 0 for o in range(100, committed))
        progress.delivered(offset)
        outstanding[offset] -= 1
    assert progress.commit_point() in (None, 100 + len(fanout))
    assert (committed if progress.commit_point() is None else progress.commit_point()) == 100 + len(fanout)
    assert progress.in_flight == 0


def test_a_failed_delivery_holds_the_commit_point_before_it():
    progress = PartitionProgress()
    for offset in (5, 6, 7):
        progress.consumed(offset, 1)
    progress.delivered(5)
    progress.fail()  # offset 6's record never arrives
    progress.delivered(7)
    assert progress.commit_point() == 6 and progress.failed


def test_commit_point_is_reported_once_until_it_moves():
    progress = PartitionProgress()
    progress.consumed(0, 0)
    assert progress.commit_point() == 1
    progress.mark_committed(1)
    assert progress.commit_point() is None
    progress.consumed(1, 2)
    progress.delivered(1)
    assert progress.commit_point() is None
    progress.delivered(1)
    assert progress.commit_point() == 2


# ---------------------------------------------------------------------------------- messages

def test_one_object_is_one_record():
    assert items_of(b'{"Id": "x", "RecordType": 15}', "t[0]@1") == [(1, {"Id": "x", "RecordType": 15})]


def test_arrays_envelopes_and_ndjson_give_every_record_with_its_line():
    assert [r for _, r in items_of(b'[{"a": 1}, {"a": 2}]', "s")] == [{"a": 1}, {"a": 2}]
    assert [r for _, r in items_of(b'{"value": [{"a": 1}], "@odata.nextLink": "n"}', "s")] == [{"a": 1}]
    items = items_of(b'{"a": 1}\n{"a": 2}\nnope\n', "s")
    assert items[:2] == [(1, {"a": 1}), (2, {"a": 2})]
    assert isinstance(items[2], Reject) and items[2].line == 3
    assert [r for _, r in items_of(gzip.compress(b'[{"a": 1}]'), "s")] == [{"a": 1}]  # a gzipped blob


@pytest.mark.parametrize("value, reason", [
    (None, "tombstone"), (b"", "empty"), (b"  \n", "empty"), (b"42", "not a JSON object"), (b'{"a": ', "truncated"),
])
def test_unreadable_messages_become_rejects(value, reason):
    (item,) = items_of(value, "t[0]@7")
    assert isinstance(item, Reject) and reason in item.reason and item.source == "t[0]@7"


def test_keys_follow_the_fetcher_and_are_stable():
    assert record_key({"Id": "ABC-1", "RecordType": 2}) == b"a:abc-1"
    assert record_key({"id": "T1", "recipientAddress": "Bob@Contoso.com"}) == b"m:t1|bob@contoso.com"
    assert record_key({"MessageTraceId": "T1", "RecipientAddress": "bob@contoso.com"}) == b"m:t1|bob@contoso.com"
    assert record_key({"b": 1, "a": 2}) == record_key({"a": 2, "b": 1}) != record_key({"a": 3, "b": 1})


def test_dead_letter_document_says_where_the_message_was():
    doc = orjson.loads(dead_letter(Reject("t[2]@9", 3, "bad", "{x", True), "t", 2, 9))
    assert doc == {"source": "t[2]@9", "topic": "t", "partition": 2, "offset": 9, "line": 3, "reason": "bad",
                   "raw": "{x", "raw_truncated": True}


# ---------------------------------------------------------------------------------- properties

def test_properties_file_and_assignments(tmp_path):
    path = tmp_path / "client.properties"
    path.write_text("# comment\n! also a comment\n\nsecurity.protocol = SASL_SSL\nsasl.jaas.config=a=b\n", encoding="utf-8")
    assert read_properties_file(str(path)) == {"security.protocol": "SASL_SSL", "sasl.jaas.config": "a=b"}
    assert parse_assignment("sasl.password=x=y", "-X") == ("sasl.password", "x=y")
    with pytest.raises(PropertyError, match="-X: expected key=value"):
        parse_assignment("novalue", "-X")
    path.write_text("ok=1\nbad line\n", encoding="utf-8")
    with pytest.raises(PropertyError, match=r"client.properties:2: expected key=value"):
        read_properties_file(str(path))


def test_secret_values_are_masked_and_scrubbed():
    props = {"sasl.password": "hunter22", "ssl.key.password": "k3y-pass", "sasl.username": "svc"}
    shown = describe(props)
    assert "hunter22" not in shown and "k3y-pass" not in shown and "sasl.username=svc" in shown
    assert scrub("auth failed for hunter22 and k3y-pass", props) == "auth failed for *** and ***"


# ---------------------------------------------------------------------------------- fetcher output:Kafka

_BASE = """
connection:MSOffice365:c:
  client_id: 9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a
  tenant_id: 3f2a9c1e-7b4d-4e8a-9c0f-1d2e3f4a5b6c
  client_secret: s3cr3t-value
input:MSOffice365Source:audit:
  output: fleet
"""


def test_kafka_output_section_passes_security_settings_through(tmp_path, monkeypatch):
    monkeypatch.setenv("KAFKA_PW", "pw-from-env")
    (tmp_path / "key.pw").write_text("pw-from-file\n", encoding="utf-8")
    cfg = parse_config(_BASE + f"""
output:Kafka:fleet:
  bootstrap_servers: [kafka1:9093, kafka2:9093]
  topic: o365-raw
  normalize: false
  security_protocol: SASL_SSL
  sasl_mechanism: SCRAM-SHA-512
  sasl_username: collector
  sasl_password_env: KAFKA_PW
  ssl_key_password_file: {tmp_path / 'key.pw'}
  properties:
    compression.type: zstd
    linger.ms: 50
""", str(tmp_path / "fetch.yaml"))
    out = cfg.outputs["fleet"]
    assert out.kind == "Kafka" and not out.normalize
    assert out.kafka.bootstrap_servers == "kafka1:9093,kafka2:9093" and out.kafka.topic == "o365-raw"
    assert out.kafka.properties == {"security.protocol": "SASL_SSL", "sasl.mechanism": "SCRAM-SHA-512",
                                    "sasl.username": "collector", "sasl.password": "pw-from-env",
                                    "ssl.key.password": "pw-from-file", "compression.type": "zstd", "linger.ms": "50"}
    assert "pw-from" not in repr(cfg) + repr(out)


@pytest.mark.parametrize("body, message", [
    ("  topic: t\n", "key 'bootstrap_servers': is required"),
    ("  bootstrap_servers: k:9092\n", "key 'topic': is required"),
    ("  bootstrap_servers: k:9092\n  topic: t\n  sasl_password_env: NOT_SET_ANYWHERE_42\n", "NOT_SET_ANYWHERE_42 is not set"),
    ("  bootstrap_servers: k:9092\n  topic: t\n  propertys: {}\n", "did you mean 'properties'"),
    ("  bootstrap_servers: k:9092\n  topic: t\n  properties: [a]\n", "must be a mapping"),
])
def test_kafka_output_section_errors_name_the_key(body, message):
    with pytest.raises(ConfigError) as info:
        parse_config(_BASE + "output:Kafka:fleet:\n" + body)
    assert message in str(info.value) and "output:Kafka:fleet" in str(info.value)


# ---------------------------------------------------------------------------------- engine failures

def test_an_engine_failure_becomes_a_reject_with_the_reason():
    """pipeline.render, shared by the command line, the Kafka stage and the fetcher."""
    from normalizer.pipeline import Counts, normalize_items, render

    def broken(record):
        raise KeyError("boom")

    data, warnings = render(broken, {"Id": "x"}, "t[0]@3", 2, False)
    assert isinstance(data, Reject) and data.reason == "internal error: KeyError: 'boom'"
    assert (data.source, data.line, orjson.loads(data.raw)) == ("t[0]@3", 2, {"Id": "x"}) and warnings is None

    class Rules:
        normalize_flat = staticmethod(broken)

    out, rejects, counts = [], [], Counts()
    normalize_items([(1, {"Id": "x"})], "f.json", Rules(), nested=False, strict=False,
                    write=out.append, write_reject=rejects.append, counts=counts)
    assert out == [] and counts.rejected == 1 and b"internal error" in rejects[0]
