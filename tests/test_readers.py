"""Tests for normalizer.readers: NDJSON and streamed JSON documents, gzip, rejects, memory."""

from __future__ import annotations

import gzip
import io
import sys
import tracemalloc

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from normalizer import readers
from normalizer.readers import Reject, open_input, read_records


class Pipe(io.RawIOBase):
    """A non-seekable stream that hands out at most ``step`` bytes per read, like a pipe."""

    def __init__(self, data: bytes, step: int = 3):
        self._data, self._pos, self._step = data, 0, step

    def readable(self):
        return True

    def seekable(self):
        return False

    def readinto(self, b):
        chunk = self._data[self._pos : self._pos + min(len(b), self._step)]
        b[: len(chunk)] = chunk
        self._pos += len(chunk)
        return len(chunk)


def read(data: bytes, source: str = "t.json") -> list:
    return list(read_records(io.BytesIO(data), source))


def records(items: list) -> list:
    return [item for item in items if not isinstance(item, Reject)]


def rejects(items: list) -> list[tuple[int, str, str]]:
    return [(r.line, r.reason, r.raw) for r in items if isinstance(r, Reject)]


@pytest.fixture(params=[1, 2, 3, 5, 16, 1 << 20], ids=lambda n: f"chunk{n}")
def chunk(request, monkeypatch):
    """Run a test with several chunk sizes, so boundaries fall everywhere."""
    monkeypatch.setattr(readers, "CHUNK_SIZE", request.param)
    return request.param


# ---------------------------------------------------------------- NDJSON mode


def test_ndjson_lines_blank_lines_crlf_and_last_line_without_newline(chunk):
    data = b'{"a":1}\r\n\r\n   \n{"b":"x\\"y"}\r\n\t{"c":[1,{"d":2}]}'
    assert read(data) == [(1, {"a": 1}), (4, {"b": 'x"y'}), (5, {"c": [1, {"d": 2}]})]


def test_ndjson_list_lines_yield_each_element_and_reject_non_objects(chunk):
    data = b'{"a":1}\n[{"b":2}, 3, "s", [4], null, true, {"c":3}]\n'
    items = read(data)
    assert records(items) == [(1, {"a": 1}), (2, {"b": 2}), (2, {"c": 3})]
    assert rejects(items) == [
        (2, f"record is not a JSON object (got {kind})", raw)
        for kind, raw in [("number", "3"), ("string", '"s"'), ("list", "[4]"), ("null", "null"), ("bool", "true")]
    ]


@pytest.mark.parametrize(
    "line, kind", [(b"12", "number"), (b"-1.5e3", "number"), (b'"x"', "string"), (b"null", "null"), (b"false", "bool")]
)
def test_ndjson_scalar_lines_are_rejected(line, kind):
    items = read(b'{"a":1}\n' + line + b"\r\n")
    assert rejects(items) == [(2, f"record is not a JSON object (got {kind})", line.decode())]


def test_ndjson_invalid_lines_are_rejected_and_reading_goes_on(chunk):
    items = read(b'{"a":1}\n{"a": tru}\n{"b":2}\n{"c":\n')
    assert records(items) == [(1, {"a": 1}), (3, {"b": 2})]
    assert [(line, raw) for line, _, raw in rejects(items)] == [(2, '{"a": tru}'), (4, '{"c":')]
    assert all(reason.startswith("invalid JSON: ") for _, reason, _ in rejects(items))


def test_first_byte_neither_bracket_nor_brace_means_ndjson():
    items = read(b'hello\n{"a":1}\n')
    assert records(items) == [(2, {"a": 1})]
    assert rejects(items)[0][0] == 1 and rejects(items)[0][2] == "hello"


def test_ndjson_envelopes_are_unwrapped():
    data = b"\n".join(
        [
            b'{"@odata.context":"c","value":[{"a":1},{"a":2}],"@odata.nextLink":"n"}',
            b'{"d":{"results":[{"b":1}],"__next":"n","__count":"1"}}',
            b'{"d":[{"c":1}, 5]}',
            b'{"value":[{"x":1}],"Operation":"NotAnEnvelope"}',
            b'{"d":[1],"x":1}',
            b'{"value":"not a list"}',
        ]
    )
    items = read(data)
    assert records(items) == [
        (1, {"a": 1}),
        (1, {"a": 2}),
        (2, {"b": 1}),
        (3, {"c": 1}),
        (4, {"value": [{"x": 1}], "Operation": "NotAnEnvelope"}),
        (5, {"d": [1], "x": 1}),
        (6, {"value": "not a list"}),
    ]
    assert rejects(items) == [(3, "record is not a JSON object (got number)", "5")]


def test_ndjson_very_long_line():
    big = {"Id": "x" * 3_000_000, "n": list(range(1000))}
    assert read(b'{"a":1}\n' + orjson.dumps(big) + b"\n{}") == [(1, {"a": 1}), (2, big), (3, {})]


# -------------------------------------------------------------- document mode


def test_compact_array(chunk):
    assert read(b' [{"a":1},{"b":[{"c":"]},{["}]}, {}]') == [(1, {"a": 1}), (1, {"b": [{"c": "]},{["}]}), (1, {})]


def test_pretty_array_line_numbers(chunk):
    recs = [{"Id": i, "Nested": {"List": [1, {"x": "y"}]}} for i in range(4)]
    data = orjson.dumps(recs, option=orjson.OPT_INDENT_2)
    starts = [n + 1 for n, text in enumerate(data.split(b"\n")) if text == b"  {"]
    assert read(b"\n\n" + data) == [(line + 2, rec) for line, rec in zip(starts, recs)]


def test_array_elements_that_are_not_objects_or_invalid_are_rejected(chunk):
    data = b'[\n {"a":1},\n 7,\n "s",\n {"b": 2,},\n [1, 2],\n {"c":1]\n , {"d":4}, \n null\n]'
    items = read(data)
    assert records(items) == [(2, {"a": 1}), (8, {"d": 4})]
    assert [(line, raw) for line, _, raw in rejects(items)] == [
        (3, "7"),
        (4, '"s"'),
        (5, '{"b": 2,}'),
        (6, "[1, 2]"),
        (7, '{"c":1]'),
        (9, "null"),
    ]
    reasons = [reason for _, reason, _ in rejects(items)]
    assert reasons[0] == "record is not a JSON object (got number)"
    assert reasons[3] == "record is not a JSON object (got list)"
    assert reasons[2].startswith("invalid JSON: ") and reasons[4].startswith("invalid JSON: ")


def test_missing_elements_and_garbage_between_elements(chunk):
    items = read(b'[{"a":1},,{"b":2} {"c":3},]')
    assert records(items) == [(1, {"a": 1})]
    assert rejects(items) == [
        (1, "invalid JSON: missing array element", ""),
        (1, "invalid JSON: unexpected content after document", '{"b":2} {"c":3}'),
        (1, "invalid JSON: missing array element", ""),
    ]


def test_empty_documents(chunk):
    for data in (b"[]", b" [ \n ] \n", b'{"value": []}', b'{\n"d": {"results": []}}', b'{\n "d": []\n}'):
        assert read(data) == [], data


def test_strings_escapes_and_brackets_across_chunk_boundaries(chunk):
    rec = {"s": 'a"b\\c]}{[,:', "u": "é€😀\u0001\n\t", "t": "\\", "q": '\\"', "e": ""}
    text = orjson.dumps(rec).replace(b"\\u0001", b"\\u0001\\/")  # also a "\/" escape
    expected = dict(rec, u="é€😀\u0001/\n\t")
    assert read(b"[" + text + b",\n" + text + b"]") == [(1, expected), (2, expected)]


def test_deeply_nested_and_large_records(chunk):
    deep: object = {"leaf": "]"}
    for _ in range(40):  # deeper than the fast regex goes
        deep = {"k": [deep]}
    large = {"blob": "\\" * 100_000, "list": [{"i": i} for i in range(2000)]}
    items = read(orjson.dumps([deep, large, deep]))
    assert items == [(1, deep), (1, large), (1, deep)]


def test_top_level_object_that_is_not_an_envelope_is_one_record(chunk):
    assert read(b'{\n  "Operation": "x",\n  "value": [1, 2]\n}\n') == [(1, {"Operation": "x", "value": [1, 2]})]
    assert read(b'\n{\n "@odata.type": "t", "value": {"a": 1}}') == [(2, {"@odata.type": "t", "value": {"a": 1}})]
    assert read(b'{\n "d": {"a": [1]}}') == [(1, {"d": {"a": [1]}})]


def test_graph_envelope_pretty(chunk):
    data = (
        b'{\n  "@odata.context": "https://graph/$metadata#auditLogs",\n  "@odata.count": 2,\n'
        b'  "value": [\n    {\n      "a": 1\n    },\n    {"b": "value"}\n  ],\n'
        b'  "@odata.nextLink": "https://graph/next"\n}\n'
    )
    assert read(data) == [(5, {"a": 1}), (8, {"b": "value"})]


def test_graph_envelope_with_unexpected_member_after_the_rows(chunk):
    data = b'{\n "value": [\n  {"a": 1}\n ],\n "@odata.nextLink": "n",\n "Extra": [1, {"x": "}"}]\n}'
    items = read(data)
    assert records(items) == [(3, {"a": 1})]
    assert rejects(items) == [
        (4, "unexpected member in envelope: Extra", ',\n "@odata.nextLink": "n",\n "Extra": [1, {"x": "}"}]')
    ]


def test_odata_envelopes_pretty(chunk):
    results = b'{\n "d": {\n  "__count": "2",\n  "results": [\n   {"a": 1},\n   {"b": 2}\n  ],\n  "__next": "u"\n }\n}'
    assert read(results) == [(5, {"a": 1}), (6, {"b": 2})]
    plain = b'{\n "d": [\n  {"a": 1},\n  3\n ]\n}'
    items = read(plain)
    assert records(items) == [(3, {"a": 1})]
    assert rejects(items) == [(4, "record is not a JSON object (got number)", "3")]


def test_odata_envelope_with_a_second_top_level_key_is_rejected_after_the_rows(chunk):
    items = read(b'{\n "d": [{"a": 1}],\n "x": 2\n}')
    assert records(items) == [(2, {"a": 1})]
    assert rejects(items) == [(2, "unexpected member in envelope: x", ',\n "x": 2')]


def test_values_run_together_on_lines_that_do_not_parse_alone_are_a_run_of_documents(chunk):
    data = b'{"a": 1} {"b": 2}\n  {"c": 3}{"d": 4}'
    assert read(data) == [(1, {"a": 1}), (1, {"b": 2}), (2, {"c": 3}), (2, {"d": 4})]


def test_single_line_envelope_is_ndjson():
    assert read(b'{"value": [{"a": 1}, {"a": 2}]}\n{"b": 3}\n') == [(1, {"a": 1}), (1, {"a": 2}), (2, {"b": 3})]


def test_truncated_documents(chunk):
    items = read(b'[\n {"a": 1},\n {"b": [1, "x')
    assert items[0] == (2, {"a": 1})
    assert rejects(items) == [(3, "truncated JSON document", '{"b": [1, "x')]
    # EOF right after a whole element: the element is kept, the missing ']' is reported.
    items = read(b'[\n {"a": 1},\n {"b": 2}\n')
    assert records(items) == [(2, {"a": 1}), (3, {"b": 2})]
    assert rejects(items) == [(4, "truncated JSON document", "")]
    assert rejects(read(b'[{"a": 1},  ')) == [(1, "truncated JSON document", "")]
    assert rejects(read(b"[")) == [(1, "truncated JSON document", "")]
    assert read(b'{\n "value": [\n {"a": 1}') == [(3, {"a": 1}), Reject("t.json", 3, "truncated JSON document", "")]
    assert rejects(read(b'{\n "a": {"b": ')) == [(1, "truncated JSON document", '{\n "a": {"b":')]
    assert rejects(read(b'{\n "value": [{"a": 1}], "@odata.next')) == [
        (2, "truncated JSON document", ', "@odata.next')
    ]


def test_unexpected_data_after_the_document(chunk):
    items = read(b'[{"a": 1}]\n\n  ]junk\n')
    assert records(items) == [(1, {"a": 1})]
    assert rejects(items) == [(3, "unexpected data after the JSON document", "]junk")]
    assert rejects(read(b'[{"a": 1}]\n \n\t')) == []
    items = read(b'{\n "a": 1\n}, {"b": 2}\n')  # '{' in the middle of a line: no new document
    assert records(items) == [(1, {"a": 1})]
    assert rejects(items) == [(3, "unexpected data after the JSON document", ', {"b": 2}')]


# ----------------------------------------------------- concatenated documents


def test_concatenated_arrays_one_per_line(chunk):
    data = b'[{"a": 1}, {"a": 2}]\n[{"b": 1}]\n\n[]\n[ ]\r\n[{"c": 1},\n {"c": 2}]'
    assert read(data) == [(1, {"a": 1}), (1, {"a": 2}), (2, {"b": 1}), (6, {"c": 1}), (7, {"c": 2})]


def test_concatenated_documents_of_every_kind_on_one_line(chunk):
    data = b'[{"a": 1}][{"b": 2}] {"c": 3}{"value": [{"d": 4}], "@odata.nextLink": "n"}  {"d": {"results": [{"e": 5}]}}'
    assert read(data) == [(1, {"a": 1}), (1, {"b": 2}), (1, {"c": 3}), (1, {"d": 4}), (1, {"e": 5})]


def test_cat_of_pretty_printed_graph_pages(chunk):
    pages = [
        {"@odata.context": "c", "value": [{"Id": 1, "L": [{"x": "]"}]}, {"Id": 2}], "@odata.nextLink": "p2"},
        {"@odata.context": "c", "value": []},
        {"@odata.context": "c", "value": [{"Id": 3}]},
    ]
    data = b"".join(orjson.dumps(page, option=orjson.OPT_INDENT_2) + b"\n" for page in pages)
    starts = [n + 1 for n, text in enumerate(data.split(b"\n")) if text == b"    {"]
    expected = [row for page in pages for row in page["value"]]
    assert read(data) == list(zip(starts, expected))
    assert list(read_records(Pipe(gzip.compress(data)), "<stdin>")) == list(zip(starts, expected))


def test_pretty_printed_objects_one_after_another(chunk):
    recs = [{"Id": i, "Operation": "x", "List": [{"k": i}]} for i in range(3)]
    data = b"\n".join(orjson.dumps(rec, option=orjson.OPT_INDENT_2) for rec in recs) + b"\n"
    starts = [n + 1 for n, text in enumerate(data.split(b"\n")) if text == b"{"]
    assert starts == [1, 10, 19]
    assert read(data) == list(zip(starts, recs))


def test_documents_of_different_kinds_then_ndjson_lines(chunk):
    data = (
        b'[\n {"a": 1}\n]\n{"value": [{"b": 2}], "@odata.nextLink": "n"}\n'
        b'{"d": {"results": [{"c": 3}]}}\n{"e": 5}\n\n{"f": 6}\n'
    )
    assert read(data) == [(2, {"a": 1}), (4, {"b": 2}), (5, {"c": 3}), (6, {"e": 5}), (8, {"f": 6})]


def test_junk_between_documents_is_rejected_up_to_the_next_line_starting_a_document(chunk):
    data = (
        b'[{"a": 1}]\njunk here\n  {"indented": "still junk"}\nmore junk\n{"b": 2}\n'
        b']x\r\n[{"c": 3}]\n'
    )
    items = read(data)
    assert records(items) == [(1, {"a": 1}), (5, {"b": 2}), (7, {"c": 3})]
    assert rejects(items) == [
        (2, "unexpected data after the JSON document", 'junk here\n  {"indented": "still junk"}\nmore junk'),
        (6, "unexpected data after the JSON document", "]x"),
    ]


def test_long_junk_is_capped_and_the_line_numbers_after_it_are_right(monkeypatch):
    monkeypatch.setattr(readers, "MAX_RAW", 50)
    monkeypatch.setattr(readers, "CHUNK_SIZE", 7)
    junk = b"".join(b"junk line %d\n" % i for i in range(1000))
    items = read(b'[{"a": 1}]\n' + junk + b'[{"b": 2},\n{"c": 3}]')
    assert items[0] == (1, {"a": 1}) and items[2:] == [(1002, {"b": 2}), (1003, {"c": 3})]
    assert items[1] == Reject("t.json", 2, "unexpected data after the JSON document", junk[:50].decode(), True)


def test_a_truncated_document_after_a_good_one(chunk):
    items = read(b'[{"a": 1}]\n[{"b": 2},\n {"c"')
    assert records(items) == [(1, {"a": 1}), (2, {"b": 2})]
    assert rejects(items) == [(3, "truncated JSON document", '{"c"')]


def test_memory_stays_bounded_on_large_junk_after_a_document():
    data = b'[{"a": 1}]\n' + b"x" * 1000 + b"\n" + b"junk " * 6_000_000 + b'\n{"b": 2}\n'
    stream = io.BytesIO(data)  # allocated before tracing starts
    tracemalloc.start()
    try:
        items = list(read_records(stream, "big.json"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert records(items) == [(1, {"a": 1}), (4, {"b": 2})]
    assert items[1].line == 2 and items[1].raw_truncated and len(items[1].raw) == readers.MAX_RAW
    assert peak < 10_000_000, f"peak {peak / 1e6:.1f} MB"


# ---------------------------------------- documents that never balance: cut-offs, size limit


@pytest.fixture
def limit(monkeypatch):
    """A small record-size limit (and a raw cap below it), so oversized records are cheap."""
    monkeypatch.setattr(readers, "MAX_RECORD_BYTES", 100)
    return 100


def test_bracket_then_ndjson_lines_keeps_every_record(chunk):
    lines = b"".join(b'{"n": %d, "s": "a]b}"}\n' % i for i in range(6))
    expected = [(i + 2, {"n": i, "s": "a]b}"}) for i in range(6)]
    assert read(b"[\n" + lines) == expected[:1] + [Reject("t.json", 2, "truncated JSON document", "")] + expected[1:]
    # On the '[' line itself, and with CRLF: the document is cut just before line 2.
    items = read(b"[" + lines.replace(b"\n", b"\r\n"))
    assert items == [(1, {"n": 0, "s": "a]b}"}), Reject("t.json", 1, "truncated JSON document", "")] + [
        (line - 1, rec) for line, rec in expected[1:]
    ]


def test_truncated_first_document_followed_by_ndjson_lines(chunk):
    items = read(b'[\n {"a": 1},\n {"b": [1, "x\n{"c": 1}\n[{"d": 2}, {"e": 3}]\n{"f": 4}')
    assert records(items) == [(2, {"a": 1}), (4, {"c": 1}), (5, {"d": 2}), (5, {"e": 3}), (6, {"f": 4})]
    assert rejects(items) == [(3, "truncated JSON document", '{"b": [1, "x')]
    # A top-level object, cut off inside a string by a good document and an NDJSON line.
    items = read(b'[{"a": 1}]\n{\n "Id": "x",\n "Operation": "Fil\n[{"b": 2}]\n{"c": 3}\n')
    assert records(items) == [(1, {"a": 1}), (5, {"b": 2}), (6, {"c": 3})]
    assert rejects(items) == [(2, "truncated JSON document", '{\n "Id": "x",\n "Operation": "Fil')]


def test_a_truncated_envelope_tail_is_cut_off_by_the_next_record(chunk):
    data = b'[{"z": 0}]\n{\n "value": [{"a": 1}],\n "@odata.nextLink": "https://gra\n{"b": 1}\n'
    items = read(data)
    assert records(items) == [(1, {"z": 0}), (3, {"a": 1}), (5, {"b": 1})]
    assert rejects(items) == [(3, "truncated JSON document", ',\n "@odata.nextLink": "https://gra')]


@pytest.mark.parametrize(
    "data, expected",
    [
        # Elements starting at column 0, each complete: one document.
        (b'[\n{"a":1},\n{"b":2}\n]', [(2, {"a": 1}), (3, {"b": 2})]),
        (b'{"value": [\n{"a":1},\n{"b":2}\n]}\n{"c":3}', [(2, {"a": 1}), (3, {"b": 2}), (5, {"c": 3})]),
        # Nested lines at column 0 that parse alone, inside values that are still valid.
        (b'[\n{"l": [\n{}\n]},\n{"m": [\n[1]\n]}\n]\n', [(2, {"l": [{}]}), (5, {"m": [[1]]})]),
        (b'{"Op": "x", "list": [\n{"a":1},\n{"b":2}\n]}\n', [(1, {"Op": "x", "list": [{"a": 1}, {"b": 2}]})]),
        # More such lines than are ever checked against the value so far.
        (
            b"[\n{" + b",\n".join(b'"k%d": [\n{}\n]' % i for i in range(2 * readers._MAX_PREFIX_CHECKS)) + b"}\n]",
            [(2, {f"k{i}": [{}] for i in range(2 * readers._MAX_PREFIX_CHECKS)})],
        ),
    ],
)
def test_lines_at_column_0_inside_valid_documents_do_not_cut_them(chunk, data, expected):
    assert read(data) == expected


def test_an_invalid_element_is_cut_off_only_by_a_line_it_cannot_go_on_into(chunk):
    # '{"c": 1}' could still be the value of "b"; '{"d": 2}' could not.
    items = read(b'[\n{"a": 1},\n{"b":\n{"c": 1}\n{"d": 2}\n')
    assert records(items) == [(2, {"a": 1}), (5, {"d": 2})]
    assert rejects(items) == [(3, "truncated JSON document", '{"b":\n{"c": 1}')]
    # A line that does not parse alone ('{"b": 2},') cuts nothing: the element is invalid.
    items = read(b'[\n{"a": 1}\n{"b": 2},\n{"c": 3}]')
    assert records(items) == [(4, {"c": 3})]
    assert [line for line, _, _ in rejects(items)] == [2]


def test_an_oversized_element_is_skipped_up_to_the_next_line_starting_a_document(chunk, limit):
    big = b'{"big": "' + b"x" * limit + b'"}'
    data = b'[\n{"a": 1},\n' + big + b',\n{"b": 2},\n{"c": 3}\n]\n[{"d": 4}]\n'
    assert read(data) == [
        (2, {"a": 1}),
        Reject("t.json", 3, f"record larger than {limit} bytes (limit); skipped", big.decode() + ","),
        (4, {"b": 2}),  # what follows is read as new documents
        Reject("t.json", 4, "unexpected data after the JSON document", ","),
        (5, {"c": 3}),
        Reject("t.json", 6, "unexpected data after the JSON document", "]"),
        (7, {"d": 4}),
    ]
    # An element of exactly the limit is kept (the limit counts up to its ',' or ']').
    exact = b'{"s": "' + b"y" * (limit - 10) + b'"}'
    assert len(exact + b" ") == limit
    assert read(b"[" + exact + b" ,{}]") == [(1, orjson.loads(exact)), (1, {})]


def test_an_oversized_pretty_element_loses_the_indented_rest_of_its_document(chunk, limit):
    data = b'[\n  {\n    "s": "' + b"x" * limit + b'"\n  },\n  {"b": 2}\n]\n{"c": 3}\n'
    items = read(data)
    assert records(items) == [(7, {"c": 3})]
    assert [(line, reason) for line, reason, _ in rejects(items)] == [
        (2, f"record larger than {limit} bytes (limit); skipped")
    ]


def test_an_oversized_top_level_object_is_skipped(chunk, limit):
    head = b'{"a": [' + b"1, " * limit  # never closed; the next line could go on with it
    items = read(head + b'\n{"b": 2}\n')
    reason = f"record larger than {limit} bytes (limit); skipped"
    assert items == [Reject("t.json", 1, reason, head.decode().rstrip()), (2, {"b": 2})]
    # So is an envelope whose members before the rows are too large.
    items = read(b'{\n "@odata.context": "' + b"c" * limit + b'",\n "value": [{"a": 1}]\n}\n[{"b": 2}]\n')
    assert items[1:] == [(5, {"b": 2})] and items[0].line == 1 and items[0].reason.startswith("record larger")


def test_oversized_raw_is_capped_and_the_limit_is_named_in_mib(monkeypatch):
    monkeypatch.setattr(readers, "MAX_RECORD_BYTES", 1 << 20)
    monkeypatch.setattr(readers, "MAX_RAW", 50)
    big = b'{"s": "' + b"x" * (1 << 20) + b'"}'
    assert read(b"[" + big + b",\n{\"b\": 2}\n]") == [
        Reject("t.json", 1, "record larger than 1 MiB (limit); skipped", big[:50].decode(), True),
        (2, {"b": 2}),
        Reject("t.json", 3, "unexpected data after the JSON document", "]"),
    ]


def test_long_whitespace_between_elements_is_no_record(chunk, limit):
    assert read(b'[{"a": 1},' + b" \n" * limit + b'{"b": 2}]') == [(1, {"a": 1}), (limit + 1, {"b": 2})]


def _traced_read(data: bytes) -> tuple[list, int, tuple | None, int]:
    """Read ``data`` under tracemalloc: (rejects, number of records, last record, peak bytes)."""
    stream = io.BytesIO(data)  # allocated before tracing starts
    bad, count, last = [], 0, None
    tracemalloc.start()
    try:
        for item in read_records(stream, "big.json"):
            if isinstance(item, Reject):
                bad.append(item)
            else:
                count, last = count + 1, item
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return bad, count, last, peak


def test_memory_stays_bounded_on_a_bracket_followed_by_ndjson(monkeypatch):
    monkeypatch.setattr(readers, "CHUNK_SIZE", 1 << 16)
    monkeypatch.setattr(readers, "MAX_RECORD_BYTES", 1 << 18)
    lines = b"".join(b'{"Id": %d, "Pad": "%s"}\n' % (i, b"x" * 10_000) for i in range(2000))
    bad, count, last, peak = _traced_read(b"[\n" + lines)
    assert bad == [Reject("big.json", 2, "truncated JSON document", "")]
    assert count == 2000 and last == (2001, {"Id": 1999, "Pad": "x" * 10_000})
    assert peak < 2_000_000, f"peak {peak / 1e6:.1f} MB"


def test_memory_stays_bounded_by_the_limit_when_nothing_cuts_a_document_off(monkeypatch):
    monkeypatch.setattr(readers, "CHUNK_SIZE", 1 << 16)
    monkeypatch.setattr(readers, "MAX_RECORD_BYTES", 1 << 18)
    monkeypatch.setattr(readers, "MAX_RAW", 1000)
    lines = b"".join(b'  {"Id": %d, "Pad": "%s"}\n' % (i, b"x" * 10_000) for i in range(2000))  # indented
    bad, count, last, peak = _traced_read(b"[\n" + lines + b'{"Id": 2000}\n')
    reason = "record larger than 262144 bytes (limit); skipped"
    assert bad == [Reject("big.json", 2, reason, lines[2:1002].decode(), True)]
    assert count == 1 and last == (2002, {"Id": 2000})
    assert peak < 2_000_000, f"peak {peak / 1e6:.1f} MB"


# ------------------------------------------------ NDJSON with a damaged first line


@pytest.mark.parametrize(
    "first",
    [
        b'{"a": 1,, "b": 2}',  # a syntax error
        b'{"Id": "x", "Operat',  # cut inside a string
        b'{"a": 1} {"b": 2}',  # two values on one line
        b'{"List": [1,',  # cut where the next line could go on with the value
        b'{"a": "\xff\xfe", "b": ',  # not UTF-8, and cut
    ],
)
def test_ndjson_with_a_damaged_first_line_stays_ndjson(chunk, first):
    data = b"\n \n" + first + b'\n{"c": 3}\n\n[{"d": 4}]\n{"e": 5}\n'
    items = read(data)
    assert records(items) == [(4, {"c": 3}), (6, {"d": 4}), (7, {"e": 5})]
    (bad,) = [item for item in items if isinstance(item, Reject)]
    assert bad.line == 3 and bad.raw == first.decode("utf-8", "replace") and bad.reason.startswith("invalid JSON: ")
    assert list(read_records(Pipe(gzip.compress(data)), "<stdin>")) == [
        Reject("<stdin>", 3, bad.reason, bad.raw) if isinstance(item, Reject) else item for item in items
    ]


def test_damaged_lines_before_the_first_good_one_within_the_peek_window(chunk):
    bad = [b'{"bad": %d,,' % i for i in range(readers._PEEK_LINES)]
    items = read(b"\n".join(bad) + b'\n{"ok": 1}\n{"ok": 2}')
    assert records(items) == [(len(bad) + 1, {"ok": 1}), (len(bad) + 2, {"ok": 2})]
    assert [r.line for r in items if isinstance(r, Reject)] == list(range(1, len(bad) + 1))


def test_when_no_later_line_parses_alone_it_is_a_multi_line_document(chunk):
    items = read(b'{"a": 1,,\n "b": 2}\n')
    assert records(items) == []
    (bad,) = rejects(items)
    assert bad[0] == 1 and bad[1].startswith("invalid JSON: ") and bad[2] == '{"a": 1,,\n "b": 2}'


@pytest.mark.parametrize(
    "data, expected",
    [
        # Inner lines that parse on their own ('{"a": 1}', '"y"') do not make these NDJSON:
        # the text from the first line on is still the beginning of one document.
        (b'{"value": [\n{"a": 1}\n]}\n', [(2, {"a": 1})]),
        (b'{\n  "value": [\n    {"a": 1}\n  ]\n}\n', [(3, {"a": 1})]),
        (b'{\n "d": {"results": [\n  {"a": ["x",\n   "y"]}\n ]}}', [(3, {"a": ["x", "y"]})]),
        (b'{\n "k": "\xc3\xa9\xe2\x82\xac",\n "v": [\n  {"a": 1}\n ]\n}', [(1, {"k": "\u00e9\u20ac", "v": [{"a": 1}]})]),
        # A short document, then others: still document mode.
        (b'{\n "d": []\n}\n[{"a": 1}]\n', [(4, {"a": 1})]),
        (b'{\n "a": 1\n}\n{"b": 2}\n{"c": 3}\n', [(1, {"a": 1}), (4, {"b": 2}), (5, {"c": 3})]),
    ],
)
def test_pretty_documents_whose_inner_lines_parse_alone_stay_documents(chunk, data, expected):
    assert read(data) == expected


# ----------------------------------------------------- BOM, gzip, empty input


@pytest.mark.parametrize("data", [b'{"a":1}\n{"b":2}\n', b'[{"a":1},\n{"b":2}]', b'{\n"value":[{"a":1},\n{"b":2}]}'])
def test_bom_is_skipped(chunk, data):
    expected = [(1, {"a": 1}), (2, {"b": 2})] if not data.startswith(b"{\n") else [(2, {"a": 1}), (3, {"b": 2})]
    assert read(b"\xef\xbb\xbf" + data) == expected


@pytest.mark.parametrize("data", [b'{"a":1}\r\n{"b":2}', b'\xef\xbb\xbf[{"a":1},\n{"b":2}]'])
def test_gzip_on_a_non_seekable_stream(chunk, data):
    packed = gzip.compress(data)
    items = list(read_records(Pipe(packed), "<stdin>"))
    assert items == [(1, {"a": 1}), (2, {"b": 2})]


def test_gzip_is_detected_by_magic_not_name_and_multi_member_works(tmp_path):
    path = tmp_path / "audit.json"  # no .gz suffix
    path.write_bytes(gzip.compress(b'{"a":1}\n') + gzip.compress(b'{"b":2}\n'))
    with open_input(str(path)) as stream:
        assert list(read_records(stream, str(path))) == [(1, {"a": 1}), (2, {"b": 2})]


def test_corrupt_gzip_is_a_reject_not_an_exception(chunk):
    packed = gzip.compress(b"".join(b'{"n":%d}\n' % i for i in range(5000)))
    items = list(read_records(Pipe(packed[: len(packed) // 2], step=4096), "x.gz"))
    assert records(items)[:10] == [(i + 1, {"n": i}) for i in range(10)]
    assert items[-1].reason.startswith("corrupt gzip data: ")
    (only,) = read(b"\x1f\x8b")  # the magic bytes alone
    assert only.line == 1 and only.reason.startswith("corrupt gzip data: ")
    items = read(packed[:40] + b"\x00garbage" * 50 + packed[40:])
    assert isinstance(items[-1], Reject) and items[-1].reason.startswith("corrupt gzip data: ")


@pytest.mark.parametrize("data", [b"", b"\n\n  \r\n", b"\xef\xbb\xbf", gzip.compress(b""), gzip.compress(b" \n")])
def test_empty_input(chunk, data):
    assert read(data) == []
    assert list(read_records(Pipe(data), "<stdin>")) == []


# ----------------------------------------------------------- Reject, open_input


def test_reject_to_json_bytes_and_raw_cap(monkeypatch):
    r = Reject("in.json", 3, "invalid JSON: x", "ra\u00e9w")
    assert orjson.loads(r.to_json_bytes()) == {"source": "in.json", "line": 3, "reason": "invalid JSON: x", "raw": "raéw"}
    assert not r.to_json_bytes().endswith(b"\n")
    monkeypatch.setattr(readers, "MAX_RAW", 10)
    (big,) = read(b"not json at all, and rather long\n")
    assert big.raw == "not json a" and big.raw_truncated
    assert orjson.loads(big.to_json_bytes())["raw_truncated"] is True
    (bad,) = read(b"\xff\xfe\n")
    assert bad.raw == "\ufffd\ufffd"


def test_open_input(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"[]")))
    assert open_input("-") is sys.stdin.buffer
    missing = str(tmp_path / "nope.json")
    with pytest.raises(OSError, match="nope.json"):
        open_input(missing)


# ------------------------------------------------------------------ properties

KEYS = st.text(max_size=6).filter(lambda k: k not in ("value", "d"))
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
    | st.sampled_from(['"', "\\", "\\\"", "]}", "{[", ",", "\r\n", "\u2028"])
)
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=4), max_leaves=12)
RECORDS = st.lists(st.dictionaries(KEYS, JSON, max_size=5), max_size=6)


def _pretty_rows(recs: list, indent: bytes, first_line: int) -> tuple[bytes, list[int]]:
    """Rows written one pretty-printed element after another, with the line each starts on."""
    parts, lines, line = [], [], first_line
    for rec in recs:
        text = indent + orjson.dumps(rec, option=orjson.OPT_INDENT_2).replace(b"\n", b"\n" + indent)
        parts.append(text)
        lines.append(line)
        line += text.count(b"\n") + 1
    return b",\n".join(parts), lines


def encode(recs: list, layout: str) -> tuple[bytes, list[int]]:
    """``recs`` written in ``layout``, with the line number each record must come back with."""
    if layout == "ndjson":
        return b"".join(orjson.dumps(r) + b"\n" for r in recs), list(range(1, len(recs) + 1))
    if layout == "ndjson-crlf":
        return b"\r\n".join(orjson.dumps(r) for r in recs), list(range(1, len(recs) + 1))
    if layout == "array":
        return orjson.dumps(recs), [1] * len(recs)
    if layout == "graph-compact":
        return orjson.dumps({"@odata.context": "c", "value": recs, "@odata.nextLink": "n"}), [1] * len(recs)
    head, tail = {
        "array-pretty": (b"[\n", b"\n]\n"),
        "graph": (b'{\n  "@odata.context": "c",\n  "value": [\n', b'\n  ],\n  "@odata.nextLink": "n"\n}'),
        "odata-results": (b'{\n "d": {\n  "__count": "3",\n  "results": [\n', b'\n  ],\n  "__next": "u"\n }\n}'),
        "odata-list": (b'{\n "d": [\n', b"\n ]\n}\n"),
    }[layout]
    body, lines = _pretty_rows(recs, b"  ", head.count(b"\n") + 1)
    return head + body + tail, lines


LAYOUTS = ["ndjson", "ndjson-crlf", "array", "graph-compact", "array-pretty", "graph", "odata-results", "odata-list"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    recs=RECORDS,
    layout=st.sampled_from(LAYOUTS),
    gz=st.booleans(),
    bom=st.booleans(),
    chunk=st.sampled_from([1, 2, 3, 7, 64, 1 << 20]),
)
def test_round_trip_in_every_layout(recs, layout, gz, bom, chunk):
    data, lines = encode(recs, layout)
    data = (b"\xef\xbb\xbf" if bom else b"") + data
    data = gzip.compress(data) if gz else data
    old, readers.CHUNK_SIZE = readers.CHUNK_SIZE, chunk
    try:
        items = list(read_records(Pipe(data, step=5), "s"))
    finally:
        readers.CHUNK_SIZE = old
    assert items == list(zip(lines, recs))


DOCUMENT_LAYOUTS = ["array", "array-pretty", "graph", "odata-results", "odata-list"]  # read as documents


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    parts=st.lists(st.tuples(RECORDS, st.sampled_from(LAYOUTS[2:])), min_size=1, max_size=4).filter(
        lambda parts: parts[0][1] in DOCUMENT_LAYOUTS
    ),
    separators=st.lists(st.sampled_from([b"\n", b"\r\n", b"\n\n", b" ", b""]), min_size=4, max_size=4),
    gz=st.booleans(),
    chunk=st.sampled_from([1, 2, 7, 1 << 20]),
)
def test_concatenated_documents_round_trip(parts, separators, gz, chunk):
    data, expected = b"", []
    for (recs, layout), sep in zip(parts, separators):
        text, lines = encode(recs, layout)
        offset = data.count(b"\n")
        expected += [(line + offset, rec) for line, rec in zip(lines, recs)]
        data += text + sep
    data = gzip.compress(data) if gz else data
    old, readers.CHUNK_SIZE = readers.CHUNK_SIZE, chunk
    try:
        items = list(read_records(Pipe(data, step=5), "s"))
    finally:
        readers.CHUNK_SIZE = old
    assert items == expected


@settings(max_examples=200, deadline=None)
@given(
    recs=RECORDS,
    layout=st.sampled_from(DOCUMENT_LAYOUTS),
    cuts=st.lists(
        st.tuples(
            st.integers(0, 10**6), st.integers(0, 40), st.sampled_from([b"", b"\n", b'\n{"n": 1}\n', b"\n[", b'"'])
        ),
        max_size=3,
    ),
    limit=st.sampled_from([20, 64, 10**9]),
)
def test_damaged_documents_read_the_same_whatever_the_chunk_size(recs, layout, cuts, limit):
    data, _ = encode(recs, layout)
    for where, drop, insert in cuts:  # cut documents short, and run NDJSON lines into them
        where %= len(data) + 1
        data = data[:where] + insert + data[where + drop :]
    old = readers.CHUNK_SIZE, readers.MAX_RECORD_BYTES
    readers.MAX_RECORD_BYTES = limit
    try:
        results = []
        for readers.CHUNK_SIZE in (1, 7, 1 << 20):
            results.append(list(read_records(Pipe(data, step=5), "s")))
    finally:
        readers.CHUNK_SIZE, readers.MAX_RECORD_BYTES = old
    assert results[0] == results[1] == results[2]


@settings(max_examples=300, deadline=None)
@given(
    recs=RECORDS,
    layout=st.sampled_from(LAYOUTS),
    cuts=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 3), st.binary(max_size=3)), max_size=3),
    chunk=st.sampled_from([1, 3, 1 << 20]),
)
def test_damaged_input_never_raises(recs, layout, cuts, chunk):
    data, _ = encode(recs, layout)
    for where, drop, insert in cuts:  # delete and insert a few bytes anywhere
        where %= len(data) + 1
        data = data[:where] + insert + data[where + drop :]
    old, readers.CHUNK_SIZE = readers.CHUNK_SIZE, chunk
    try:
        items = list(read_records(io.BytesIO(data), "s"))
    finally:
        readers.CHUNK_SIZE = old
    for item in items:
        assert isinstance(item, Reject) or (isinstance(item, tuple) and type(item[1]) is dict)
        line = item.line if isinstance(item, Reject) else item[0]
        assert 1 <= line <= data.count(b"\n") + 1


@given(st.binary(max_size=200))
def test_arbitrary_bytes_never_raise(data):
    for item in read(data) + read(gzip.compress(data)[:-3]):
        assert isinstance(item, (Reject, tuple))


# ---------------------------------------------------------------------- memory


class GeneratedArray(io.RawIOBase):
    """A ~``size``-byte JSON array of audit-like records, generated while it is read."""

    def __init__(self, size: int, pretty: bool):
        self._pending = b"["
        self._left = size
        self._i = 0
        self._pretty = pretty
        self.count = 0

    def readable(self):
        return True

    def readinto(self, b):
        while len(self._pending) < len(b) and self._left > 0:
            rec = {"Id": f"{self._i:08d}", "Operation": "FileAccessed", "UserId": "a@b.c", "Pad": "x" * 1200,
                   "ExtendedProperties": [{"Name": "UserAgent", "Value": "Mozilla/5.0 \"quoted\" ]}"}]}
            text = orjson.dumps(rec, option=orjson.OPT_INDENT_2 if self._pretty else 0)
            self._pending += (b"," if self._i else b"") + text
            self._left -= len(text)
            self._i += 1
            if self._left <= 0:
                self._pending += b"]"
        n = min(len(b), len(self._pending))
        b[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n


@pytest.mark.parametrize("pretty", [False, True], ids=["compact", "pretty"])
def test_memory_stays_bounded_on_a_large_array(pretty):
    stream = GeneratedArray(50_000_000, pretty)
    tracemalloc.start()
    try:
        count = 0
        for item in read_records(io.BufferedReader(stream), "big.json"):
            assert not isinstance(item, Reject)
            count += 1
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == stream._i > 30_000
    assert peak < 10_000_000, f"peak {peak / 1e6:.1f} MB"
