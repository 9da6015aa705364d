"""The expression language, driven by the case table in expr_cases.yaml."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from normalizer.codegen import compile_standalone
from normalizer.context import RecordContext
from normalizer.diagnostics import ExpressionError, RuleRuntimeError
from normalizer.missing import MISSING
from normalizer.ruleset import load_ruleset

CASES = yaml.safe_load((Path(__file__).with_name("expr_cases.yaml")).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def builtin_enums():
    return load_ruleset().source.enums


@pytest.mark.parametrize("case", CASES, ids=[c["desc"] for c in CASES])
def test_expression_case(case, builtin_enums):
    enums = builtin_enums if case.get("enums") else {}
    if "error" in case:
        with pytest.raises(ExpressionError) as info:
            compile_standalone(case["expr"], enums)
        assert info.value.code == case["error"], info.value.diagnostic.render()
        return
    fn = compile_standalone(case["expr"], enums)
    record = case.get("input") or {}
    if "raises" in case:
        with pytest.raises(RuleRuntimeError) as info:
            fn(record, RecordContext())
        assert info.value.code == case["raises"]
        return
    value = fn(record, RecordContext())
    if case.get("missing"):
        assert value is MISSING
    else:
        assert value is not MISSING
        assert value == case["result"] and type(value) is type(case["result"])


def test_cases_cover_every_outcome():
    kinds = {next(k for k in ("error", "raises", "missing", "result") if k in c) for c in CASES}
    assert kinds == {"error", "raises", "missing", "result"}
