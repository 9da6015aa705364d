"""Property tests: whatever the input, the engine answers with its own types and never crashes."""

from __future__ import annotations

import random

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.lark import from_lark

from normalizer.codegen import compile_standalone
from normalizer.context import RecordContext
from normalizer.diagnostics import ExpressionError
from normalizer.expr_parser import _parser
from normalizer.functions import REGISTRY
from normalizer.ruleset import load_ruleset
from normalizer.runtime import flatten

KEYS = st.sampled_from(
    ["RecordType", "CreationTime", "Id", "Operation", "UserId", "ClientIP", "DeviceProperties", "ExtendedProperties",
     "ModifiedProperties", "Actor", "Target", "Parameters", "Name", "Value", "NewValue", "OldValue", "Type", "x", "",
     "a.b", "@odata.type", "MessageTraceId", "Received", "receivedDateTime", "recipientAddress", "Size", "é"]
) | st.text(max_size=8)

SCALARS = st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False, allow_infinity=False) \
    | st.text(max_size=20) | st.sampled_from(["15", "True", "2020-02-10T15:13:13", "/Date(1658751973240)/", "::ffff:1.2.3.4", "[1,2]", '{"a":1}'])

JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=5), max_leaves=25)
RECORDS = st.dictionaries(KEYS, JSON, max_size=10)


@pytest.fixture(scope="module")
def ruleset():
    return load_ruleset()


def _leaf_count(node) -> int:
    if isinstance(node, dict) and node:
        return sum(_leaf_count(v) for v in node.values())
    return 1


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture], deadline=None)
@given(record=RECORDS)
def test_any_record_normalizes_without_raising(ruleset, record):
    flat = ruleset.normalize_flat(record)
    tree = ruleset.normalize(record)
    if _leaf_count(tree) == len(flatten(tree)):  # keys with dots can make two paths one flat key
        assert flat == flatten(tree)  # the flat fast path equals the nested rules
    orjson.dumps(flat)  # the output is always serializable JSON
    for warning in flat.get("normalizer.warnings", []):
        assert {"code", "message"} <= set(warning)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture], deadline=None)
@given(record=RECORDS, seed=st.integers(0, 1000))
def test_output_does_not_depend_on_key_order(ruleset, record, seed):
    keys = list(record)
    random.Random(seed).shuffle(keys)
    shuffled = {k: record[k] for k in keys}
    a = orjson.dumps(ruleset.normalize_flat(record), option=orjson.OPT_SORT_KEYS)
    b = orjson.dumps(ruleset.normalize_flat(shuffled), option=orjson.OPT_SORT_KEYS)
    assert a == b


_FUNCS = st.sampled_from(sorted(REGISTRY) + ["lowr", "nope"])
_EXPRESSIONS = from_lark(
    _parser(),
    explicit={
        "FUNC": _FUNCS,
        "FIELD": st.sampled_from(["a", "b", "RecordType", "x_1"]),
        "PATH_HEAD": st.sampled_from([".", ".a", ".b", ".RecordType"]),
        "VAR": st.sampled_from(["$a", "$undefined"]),
        "STRING": st.sampled_from(['"x"', "'y'", '"RecordType"', '"(["', '"\\u00e9"']),
        "NUMBER": st.sampled_from(["0", "-1", "2.5", "1e3"]),
        "WS": st.just(" "),
    },
)


# from_lark walks the grammar file itself, but most of its draws overrun and are thrown
# away, so it is slow; a bounded recursive generator of the same constructs gives the
# volume. Both must only ever produce a compiled expression or the engine's own error.
_ATOMS = st.sampled_from(['.', '.a', '.b.c', '$.a', '$a', '$undefined', '"x"', "'y'", '0', '-1', '2.5', 'true',
                          'null', '[]', '{}', '.a[0]', '.["k k"]'])


def _compose(inner):
    binary = st.tuples(inner, st.sampled_from(["??", "or", "and", "==", "!=", "<", "<=", ">", ">=", "in", "not in"]), inner)
    call = st.tuples(_FUNCS, st.lists(inner, max_size=3))
    return st.one_of(
        binary.map(lambda t: f"{t[0]} {t[1]} {t[2]}"),
        inner.map(lambda e: f"not {e}"),
        inner.map(lambda e: f"({e})"),
        call.map(lambda t: f"{t[0]}({', '.join(t[1])})"),
        st.lists(inner, max_size=3).map(lambda xs: "[" + ", ".join(xs) + "]"),
        st.lists(st.tuples(st.sampled_from(['"k"', "k2"]), inner), max_size=2).map(
            lambda ps: "{" + ", ".join(f"{k}: {v}" for k, v in ps) + "}"),
        st.tuples(inner, inner).map(lambda t: f"{t[0]}[{t[1]}]"),
    )


_BOUNDED_EXPRESSIONS = st.recursive(_ATOMS, _compose, max_leaves=12)


def _compile_and_run(ruleset, text, record):
    try:
        fn = compile_standalone(text, ruleset.source.enums)
    except ExpressionError as exc:
        assert exc.code.startswith("E1"), exc.diagnostic.render()
        return
    # Compiled expressions run inside a rule, where any failure is caught and recorded;
    # what must never happen is a crash of the interpreter itself (RecursionError, SystemError...).
    try:
        fn(record, RecordContext())
    except (RecursionError, SystemError, MemoryError):  # pragma: no cover - the failure we look for
        raise
    except Exception:
        pass


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture], deadline=None)
@given(text=_BOUNDED_EXPRESSIONS, record=RECORDS)
def test_generated_expressions_compile_or_fail_cleanly(ruleset, text, record):
    _compile_and_run(ruleset, text, record)


@settings(max_examples=20, suppress_health_check=list(HealthCheck), deadline=None)
@given(text=_EXPRESSIONS, record=RECORDS)
def test_expressions_from_the_grammar_file_compile_or_fail_cleanly(ruleset, text, record):
    _compile_and_run(ruleset, text, record)


def test_rule_failure_becomes_a_warning_not_an_exception(tmp_path):
    (tmp_path / "r.yaml").write_text(
        "version: 1\nstream: audit\nrules:\n  - id: t.fail\n    set:\n      o365.audit.N: to_int(.X)\n      o365.audit.M: .X\n"
    )
    rs = load_ruleset([tmp_path])
    flat = rs.normalize_flat({"X": "not a number"})
    assert flat["o365.audit.M"] == "not a number"
    [warning] = flat["normalizer.warnings"]
    assert warning["rule"] == "t.fail" and warning["code"] == "E201" and warning["target"] == "o365.audit.N"
