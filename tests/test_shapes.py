"""Functions specialised per record shape (compiler.ShapeCache) give exactly the output and
warnings of the generic flat function, whatever the record: the golden samples, the benchmark
corpus, the rule examples, random records, and overlays with streams and guards of their own."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import HealthCheck, given, settings

from normalizer import bench
from normalizer.context import RecordContext
from normalizer.harness import find_golden_cases
from normalizer.readers import read_records
from normalizer.ruleset import load_ruleset
from test_golden import SAMPLES
from test_overlays import overlay, rules_file
from test_properties import RECORDS

RULESET = load_ruleset()


def _run(fn, ruleset, record):
    ctx = RecordContext(ruleset.options)
    try:
        out = fn(record, ctx)
    except Exception as exc:  # both must fail alike
        return ("raised", type(exc).__name__, str(exc))
    if ctx.warnings:
        out["normalizer.warnings"] = ctx.warnings
    return orjson.dumps(out, option=orjson.OPT_SORT_KEYS)


def assert_same(ruleset, record):
    shapes = ruleset.compiled.shapes
    specialised = shapes.build(tuple(record))
    assert _run(specialised, ruleset, record) == _run(ruleset.compiled.dispatch_flat, ruleset, record), record


def _golden_records():
    for case in find_golden_cases(SAMPLES):
        with open(case.input, "rb") as fh:
            for item in read_records(fh, str(case.input)):
                if item.__class__ is tuple:
                    yield item[1]


GOLDEN = list(_golden_records())


def test_golden_records():
    assert len(GOLDEN) > 100
    for record in GOLDEN:
        assert_same(RULESET, record)


def test_corpus_records():
    for line in bench.corpus(600):
        assert_same(RULESET, orjson.loads(line))


def test_rule_examples():
    for rule in RULESET.compiled.rules:
        for example in rule.examples:
            if isinstance(example.get("input"), dict):
                assert_same(RULESET, example["input"])


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(record=RECORDS)
def test_random_records(record):
    assert_same(RULESET, record)


def test_the_cache_specialises_hot_shapes_only_and_stays_bounded():
    rules = load_ruleset()
    shapes = rules.compiled.shapes
    shapes.threshold, shapes.capacity = 3, 2
    a, b, c = {"RecordType": 15, "Id": "a"}, {"RecordType": 15, "Id": "b", "X": 1}, {"Y": 1}
    for _ in range(2):
        rules.normalize_flat(dict(a))
    assert not shapes.functions
    rules.normalize_flat(dict(a))
    assert list(shapes.functions) == [tuple(a)]
    for _ in range(3):
        rules.normalize_flat(dict(b))
    for _ in range(5):
        assert rules.normalize_flat(dict(c)) == {"o365.audit.Y": 1}
    assert len(shapes.functions) == 2  # full: the third shape stays generic
    assert rules.normalize_flat(dict(a)) == RULESET.normalize_flat(dict(a))


OVERLAY_STREAMS = """version: 1
streams:
  - name: custom
    match: exists(.Custom) and .Custom != "skip"
    let:
      big: to_int(.Size) > 10
    passthrough: o365.custom
"""

OVERLAY_RULES = rules_file(
    """  - id: custom.size
    when: $big
    drop: [Noise]
    move:
      o365.custom.Size: to_int(.Size)
  - id: custom.nested
    set:
      o365.custom.Obj.Deep: upper(.Obj.Deep)
      o365.custom.Obj: .Replacement
  - id: custom.exists
    when: exists(.Flag) or not exists(.Other)
    set:
      o365.custom.Seen: coalesce(.Flag, "none")
""",
    stream="custom",
)


@pytest.fixture(scope="module")
def overlaid(tmp_path_factory):
    root = tmp_path_factory.mktemp("shapes")
    layer = overlay(root, "layer", {"streams.yaml": OVERLAY_STREAMS, "custom.yaml": OVERLAY_RULES})
    return load_ruleset([layer])


@pytest.mark.parametrize("record", [
    {"Custom": "x", "Size": "42", "Noise": 1, "Obj": {"Deep": "a", "Other": 1}},
    {"Custom": "x", "Size": "4", "Noise": 1, "Obj": {"Deep": "a"}, "Replacement": {"New": 1}},
    {"Custom": "skip", "Size": "42", "RecordType": 15},
    {"Custom": "x", "Size": "abc", "Flag": None, "Other": 2},
    {"Custom": "x", "Size": "12", "Obj": "not an object", "Noise": {"a": 1}},
    {"Custom": "x", "Size": "12", "Replacement": {}, "Obj": {"Deep": 1}},
    {"Custom": "x", "a.b": 1, "a": {"b": 2}, "Obj.Deep": "dotted"},
    {"RecordType": 15, "CreationTime": "2024-05-06T07:08:09", "ClientIP": "1.2.3.4:80"},
])
def test_overlay_streams_and_guards(overlaid, record):
    assert_same(overlaid, record)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
          deadline=None)
@given(record=RECORDS)
def test_overlay_random_records(overlaid, record):
    record = dict(record, Custom=record.get("Custom", "x"))
    assert_same(overlaid, record)
