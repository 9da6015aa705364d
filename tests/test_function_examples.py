"""Every function's documented examples, run through the real expression compiler.

The examples are the README's function reference, so this keeps docs and behaviour
in step; the completeness checks keep the registry honest.
"""

from __future__ import annotations

import pytest

from normalizer.codegen import compile_standalone
from normalizer.context import RecordContext
from normalizer.diagnostics import RuleRuntimeError
from normalizer.functions import REGISTRY, Raises
from normalizer.missing import MISSING
from normalizer.ruleset import load_ruleset

EXAMPLES = [(spec.name, i, ex) for spec in REGISTRY.values() for i, ex in enumerate(spec.examples)]


@pytest.fixture(scope="module")
def enums():
    return load_ruleset().source.enums


@pytest.mark.parametrize("name,i,example", EXAMPLES, ids=[f"{n}-{i}" for n, i, _ in EXAMPLES])
def test_function_example(name, i, example, enums):
    fn = compile_standalone(example.expr, enums)
    ctx = RecordContext()
    if isinstance(example.result, Raises):
        with pytest.raises(RuleRuntimeError) as info:
            fn(example.record, ctx)
        assert info.value.code == example.result.code
        return
    value = fn(example.record, ctx)
    if example.result is MISSING:
        assert value is MISSING
    else:
        assert value == example.result and type(value) is type(example.result), f"{example.expr} -> {value!r}"
    assert [w["code"] for w in ctx.warnings or []] == list(example.warnings)


def test_every_function_is_documented_and_exemplified():
    for spec in REGISTRY.values():
        assert spec.doc and spec.doc[0].isupper(), spec.name
        assert spec.examples, spec.name
        assert any(spec.name + "(" in ex.expr for ex in spec.examples), f"{spec.name}: examples must call it"


@pytest.mark.parametrize("name", sorted(n for n, s in REGISTRY.items() if not s.accepts_missing and not s.lambda_args and s.enum_arg is None))
def test_missing_in_missing_out(name):
    spec = REGISTRY[name]
    args = [MISSING] + [None] * (spec.min_args - 1)
    if spec.takes_context:
        args.insert(0, RecordContext())
    assert spec.impl(*args) is MISSING
