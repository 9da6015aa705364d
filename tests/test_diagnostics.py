"""Rule-file diagnostics as UI tests: a broken rule directory and the exact text users see."""

from __future__ import annotations

from pathlib import Path

import pytest

from normalizer.diagnostics import RuleLoadError
from normalizer.ruleset import load_ruleset

HERE = Path(__file__).parent
CASES = sorted(p.name for p in (HERE / "diagnostics").iterdir() if p.is_dir() and not p.name.startswith("_"))


@pytest.mark.parametrize("case", CASES)
def test_rendered_diagnostics(case, monkeypatch, request):
    monkeypatch.chdir(HERE)
    with pytest.raises(RuleLoadError) as info:
        load_ruleset(["diagnostics/_base", f"diagnostics/{case}"], builtin=False)
    rendered = str(info.value) + "\n"
    expected_file = HERE / "diagnostics" / case / "expected.txt"
    if request.config.getoption("--update-golden"):
        expected_file.write_text(rendered, encoding="utf-8")
    assert rendered == expected_file.read_text(encoding="utf-8")


def test_every_diagnostic_has_a_position_and_a_known_code(monkeypatch):
    from normalizer.diagnostics import CODES

    monkeypatch.chdir(HERE)
    for case in CASES:
        with pytest.raises(RuleLoadError) as info:
            load_ruleset(["diagnostics/_base", f"diagnostics/{case}"], builtin=False)
        for diag in info.value.diagnostics:
            assert diag.code in CODES
            assert diag.span is not None and diag.span.line >= 1 and diag.span.col >= 1
