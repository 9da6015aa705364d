"""Small pieces of the fetcher: exact element text, record keys, the seen window, progress files."""

from __future__ import annotations

import json

import pytest

from normalizer.fetch import jsonspans
from normalizer.fetch.checkpoint import CheckpointError, CheckpointStore, StreamState, safe_name
from normalizer.fetch.config import parse_duration
from normalizer.fetch.seen import SeenWindow, record_key


def test_jsonspans_keeps_each_element_as_sent():
    text = '\ufeff[ {"a": 1.50,\r\n "b": "\\u00e9"} , 2 ,"x"]  \n'
    doc = jsonspans.parse(text)
    assert [e.text for e in doc] == ['{"a": 1.50, "b": "\\u00e9"}', "2", '"x"']
    assert doc[0].value == {"a": 1.5, "b": "é"}


@pytest.mark.parametrize("text, path, texts, extra", [
    ('{"@odata.context": "c", "value": [{"id": 1}], "@odata.nextLink": "n"}', ("value",), ['{"id": 1}'], "@odata.nextLink"),
    ('{"d": {"results": [{"Index": 0}], "__next": "u"}}', ("d", "results"), ['{"Index": 0}'], "d"),
    ('{"d": [{"Index": 0}]}', ("d", "results"), ['{"Index": 0}'], "d"),
    ('{"value": []}', ("value",), [], "value"),
])
def test_jsonspans_finds_the_array_in_envelopes(text, path, texts, extra):
    doc = jsonspans.parse(text, path)
    assert [e.text for e in jsonspans.find(doc, path)] == texts
    assert extra in doc


@pytest.mark.parametrize("text", ['[{"a": 1}', "[1 2]", "[1],", "", "{", '{"value": [1,]}', "[1]]"])
def test_jsonspans_rejects_malformed_documents(text):
    with pytest.raises(jsonspans.MalformedJSON):
        jsonspans.parse(text, ("value",))


def test_record_keys():
    assert record_key("audit", {"Id": "ABC"}, "") == record_key("audit", {"Id": "abc"}, "x")
    graph = {"id": "T1", "recipientAddress": "A@contoso.com"}
    legacy = {"MessageTraceId": "t1", "RecipientAddress": "a@contoso.com"}
    assert record_key("message", graph, "1") == record_key("message", legacy, "2")  # switching api keeps the window
    assert record_key("message", graph, "") != record_key("message", dict(graph, recipientAddress="b@contoso.com"), "")
    assert record_key("audit", {"NoId": 1}, "t1") != record_key("audit", {"NoId": 1}, "t2")  # no id: the text


def test_seen_window_is_bounded_by_count_and_time():
    w = SeenWindow(3)
    for i in range(5):
        w.add(f"k{i}", 100 + i)
    assert len(w) == 3 and "k0" not in w and "k4" in w
    w.prune_before(103)
    assert "k2" not in w and "k3" in w
    again = SeenWindow(10, w.to_json())
    assert "k4" in again and "k3" in again and len(again) == 2
    assert "k4" not in json.dumps(w.to_json())  # digests, not keys


def test_checkpoint_round_trip_and_atomic_files(tmp_path):
    store = CheckpointStore(str(tmp_path), "My Input/1")
    store.open()
    st, warning = store.load("Audit.Exchange", 100)
    assert warning is None and st.cursor is None
    st.cursor = 1700000000
    st.done["c1"] = 1699999000
    st.seen.add("a:1", 5)
    st.pending = {"path": "/x", "offset": 10, "keys": ["h"], "t": 5}
    store.save(st)
    again, _ = CheckpointStore(str(tmp_path), "My Input/1").load("Audit.Exchange", 100)
    assert (again.cursor, again.done, again.pending["offset"]) == (1700000000, {"c1": 1699999000}, 10)
    assert "a:1" in again.seen
    assert sorted(p.name for p in store.dir.iterdir()) == [".lock", "Audit.Exchange.json"]  # no temp files left
    assert store.dir.name == safe_name("My Input/1") != "My Input/1"
    with pytest.raises(CheckpointError, match="in use by another"):
        CheckpointStore(str(tmp_path), "My Input/1").open()
    store.close()


def test_an_unreadable_checkpoint_is_kept_aside_and_collection_starts_over(tmp_path):
    store = CheckpointStore(str(tmp_path), "i")
    store.open()
    store.path("messagetrace").write_text("{not json")
    st, warning = store.load("messagetrace", 10)
    assert isinstance(st, StreamState) and st.cursor is None
    assert "unreadable" in warning and list(store.dir.glob("messagetrace.json.unreadable-*"))
    store.close()


@pytest.mark.parametrize("value, seconds", [(600, 600), ("600", 600), ("24h", 86400), ("7d", 604800),
                                            ("1d12h", 129600), ("90m", 5400), ("soon", None), (True, None)])
def test_durations(value, seconds):
    assert parse_duration(value) == seconds
