"""Golden samples: every file in samples/ normalizes to exactly its .expected.json.

Regenerate after an intentional change with `python -m pytest tests/test_golden.py
--update-golden`, then review the diff of the expected files like code.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from normalizer.harness import find_golden_cases, run_golden
from normalizer.output_schema import output_validator
from normalizer.ruleset import load_ruleset

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
CASES = find_golden_cases(SAMPLES)
RULESET = load_ruleset()
VALIDATE = output_validator(RULESET)


def test_enough_cases_across_workloads():
    assert len(CASES) >= 60
    groups = {case.input.relative_to(SAMPLES).parts[0] for case in CASES}
    assert {"azuread", "exchange", "sharepoint", "teams", "dlp", "security_compliance", "general",
            "message_trace", "edge_cases"} <= groups


@pytest.mark.parametrize("case", CASES, ids=[str(c.input.relative_to(SAMPLES)) for c in CASES])
def test_golden_sample(case, request):
    result = run_golden(RULESET, case, update=request.config.getoption("--update-golden"), validate=VALIDATE)
    assert result.passed, "\n".join(result.details)
