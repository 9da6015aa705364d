"""The README is the front door: its generated reference sections and commands must be true."""

from __future__ import annotations

import re
from pathlib import Path

from normalizer.reference_docs import SECTIONS, _markers, apply

README = Path(__file__).resolve().parent.parent / "README.md"
TEXT = README.read_text(encoding="utf-8")


def test_generated_sections_are_present_and_current():
    for name in SECTIONS:
        begin, end = _markers(name)
        assert begin in TEXT and end in TEXT, f"README lacks the {name} section markers"
    assert apply(TEXT) == TEXT, "README reference is stale: run python -m normalizer.reference_docs --write"


def test_ci_runs_the_readme_test_command():
    ci = (README.parent / ".ci" / "run").read_text(encoding="utf-8")
    commands = re.findall(r"```\n(python3 -m venv .*?)\n```", TEXT)
    assert len(commands) >= 2, "the README opens with the install-and-run and the test commands"
    assert commands[1] in ci


def test_readme_mentions_every_subcommand_and_exit_code():
    from normalizer.cli import exit_codes

    for command in ("normalize", "check", "explain", "rules test"):
        assert command in TEXT
    for name in ("OK", "REJECTS", "USAGE", "RULE_ERROR", "STRICT"):
        assert f"| {getattr(exit_codes, name)} |" in TEXT


def test_the_new_workload_walkthrough_works(tmp_path):
    """The README's "Adding a rule for a new workload" example, run as written."""
    from normalizer.harness import run_rule_examples
    from normalizer.ruleset import load_ruleset

    section = TEXT.split("### Adding a rule for a new workload", 1)[1].split("\n## ", 1)[0]
    rule_yaml = re.search(r"```yaml\n(.*?)```", section, re.S).group(1)
    (tmp_path / "contoso-app.yaml").write_text("\n".join(line[3:] for line in rule_yaml.splitlines()), encoding="utf-8")
    (tmp_path / "contoso-risk.yaml").write_text(
        "version: 1\nenum: ContosoRisk\nsource: README example\nvalues: {1: Low, 2: High}\n", encoding="utf-8")
    ruleset = load_ruleset([tmp_path])
    results = run_rule_examples(ruleset, layers=[1])
    assert results and all(r.passed for r in results), [r.details for r in results]
