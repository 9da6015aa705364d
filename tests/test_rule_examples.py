"""The built-in rules' own examples, and the built-in rule set's load-time guarantees."""

from __future__ import annotations

import pytest

from normalizer.harness import run_rule_examples
from normalizer.output_schema import output_validator
from normalizer.ruleset import load_ruleset

RULESET = load_ruleset()
RESULTS = run_rule_examples(RULESET)


def test_there_are_examples():
    assert len(RESULTS) >= 30


@pytest.mark.parametrize("result", RESULTS, ids=[r.name.split(" (")[0] for r in RESULTS])
def test_rule_example(result):
    assert result.passed, "\n".join(result.details)


def test_example_outputs_validate_against_the_output_schema():
    validate = output_validator(RULESET)
    for rule in RULESET.compiled.rules:
        for example in rule.examples:
            problems = validate(RULESET.normalize_flat(example["input"]))
            assert not problems, f"{rule.id}: {problems}"


def test_every_builtin_rule_has_a_unique_id_and_a_source():
    ids = [r.id for r in RULESET.compiled.rules]
    assert len(ids) == len(set(ids))
    for rule in RULESET.compiled.rules:
        assert rule.source.startswith("rules/")


def test_builtin_rules_load_without_warnings():
    assert not RULESET.warnings, [str(w) for w in RULESET.warnings]


def test_a_misspelt_field_gets_a_hint(tmp_path):
    (tmp_path / "r.yaml").write_text("version: 1\nstream: audit\nrules:\n  - id: t.x\n    set:\n      o365.audit.Foo: lower(.RecrdType)\n")
    [warning] = load_ruleset([tmp_path]).warnings
    assert warning.code == "W100" and warning.hint == "did you mean '.RecordType'?"
    assert (warning.span.line, warning.span.col) == (6, 29)
