"""The rule test harness: rule examples and golden samples, for users and for our own tests.

A rule's ``examples`` state, for a small input record, the flat attributes the output
must contain, the ones it must not, and the warning codes. Golden samples are input
files (``case.json``, ``case.ndjson``, optionally ``.gz``) next to ``case.expected.json``
holding ``{"records": [...], "rejects": [...]}``: the exact output of the whole rule set.
``o365norm rules test`` and the project's pytest suite both run through this module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import orjson

from .readers import Reject, open_input, read_records
from .ruleset import Ruleset

INPUT_SUFFIXES = (".json", ".ndjson", ".jsonl", ".json.gz", ".ndjson.gz", ".jsonl.gz")
EXPECTED_SUFFIX = ".expected.json"

Validator = Callable[[dict], list[str]]  # flat output record -> problems


@dataclass
class CaseResult:
    name: str
    passed: bool
    details: list[str] = field(default_factory=list)
    updated: bool = False


def _same(a: Any, b: Any) -> bool:
    """JSON equality: 1 and true differ, 1 and 1.0 do not."""
    return orjson.dumps(a, option=orjson.OPT_SORT_KEYS) == orjson.dumps(b, option=orjson.OPT_SORT_KEYS) or (
        type(a) in (int, float) and type(b) in (int, float) and a == b
    )


def _show(value: Any) -> str:
    text = orjson.dumps(value).decode()
    return text if len(text) <= 120 else text[:117] + "..."


# -- rule examples ----------------------------------------------------------------------
def run_rule_examples(ruleset: Ruleset, layers: Iterable[int] | None = None) -> list[CaseResult]:
    """Run the examples of every active rule (only from the given layers, if set)."""
    wanted = set(layers) if layers is not None else None
    results = []
    for rule in ruleset.compiled.rules:
        if wanted is not None and rule.file.layer not in wanted:
            continue
        for i, example in enumerate(rule.examples):
            where = rule.file.doc.span(_example_path(rule, i))
            results.append(check_example(ruleset, f"{rule.id} example {i + 1} ({where.path}:{where.line})", example))
    return results


def _example_path(rule, i: int) -> tuple:
    doc_rules = rule.file.doc.data["rules"]
    index = next(n for n, raw in enumerate(doc_rules) if raw.get("id") == rule.id)
    return ("rules", index, "examples", i)


def check_example(ruleset: Ruleset, name: str, example: dict) -> CaseResult:
    flat = ruleset.normalize_flat(example["input"])
    details = []
    for key, want in (example.get("output") or {}).items():
        if key not in flat:
            details.append(f"{key}: expected {_show(want)}, but the output has no such attribute")
        elif not _same(flat[key], want):
            details.append(f"{key}: expected {_show(want)}, got {_show(flat[key])}")
    for key in example.get("absent") or ():
        if key in flat:
            details.append(f"{key}: expected absent, got {_show(flat[key])}")
    if "warnings" in example:
        got = [w["code"] for w in flat.get("normalizer.warnings", [])]
        if got != list(example["warnings"]):
            details.append(f"warnings: expected {example['warnings']}, got {got} {_show(flat.get('normalizer.warnings', []))}")
    return CaseResult(name, not details, details)


# -- golden samples ---------------------------------------------------------------------
@dataclass(frozen=True)
class GoldenCase:
    input: Path
    expected: Path

    @property
    def name(self) -> str:
        return str(self.input)


def find_golden_cases(directory: Path) -> list[GoldenCase]:
    """Every input file below ``directory`` paired with its ``.expected.json`` (existing or not)."""
    cases = []
    for path in sorted(Path(directory).rglob("*")):
        name = path.name
        if not path.is_file() or name.endswith(EXPECTED_SUFFIX):
            continue
        for suffix in INPUT_SUFFIXES:
            if name.endswith(suffix):
                cases.append(GoldenCase(path, path.with_name(name[: -len(suffix)] + EXPECTED_SUFFIX)))
                break
    return cases


def render_golden(ruleset: Ruleset, input_path: Path) -> dict:
    """The full output of the rule set for one input file, as stored in expected files."""
    records, rejects = [], []
    with open_input(str(input_path)) as stream:
        for item in read_records(stream, input_path.name):
            if isinstance(item, Reject):
                rejects.append({"line": item.line, "reason": item.reason})
            else:
                records.append(ruleset.normalize_flat(item[1]))
    return {"records": records, "rejects": rejects}


def dump_expected(data: dict) -> bytes:
    return orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"


def run_golden(ruleset: Ruleset, case: GoldenCase, *, update: bool = False, validate: Validator | None = None) -> CaseResult:
    actual = render_golden(ruleset, case.input)
    details: list[str] = []
    if validate is not None:
        for i, record in enumerate(actual["records"]):
            details.extend(f"record {i + 1}: {problem}" for problem in validate(record))
    if update:
        new = dump_expected(actual)
        old = case.expected.read_bytes() if case.expected.exists() else None
        if new != old:
            case.expected.write_bytes(new)
        return CaseResult(case.name, not details, details, updated=new != old)
    if not case.expected.exists():
        return CaseResult(case.name, False, [f"no expected output {case.expected.name} (run with --update to create it)"] + details)
    expected = orjson.loads(case.expected.read_bytes())
    details.extend(diff_outputs(expected, actual))
    return CaseResult(case.name, not details, details)


def diff_outputs(expected: dict, actual: dict, limit: int = 12) -> list[str]:
    out: list[str] = []
    exp_records, act_records = expected.get("records", []), actual["records"]
    if len(exp_records) != len(act_records):
        out.append(f"expected {len(exp_records)} records, got {len(act_records)}")
    for i, (want, got) in enumerate(zip(exp_records, act_records)):
        for key in sorted(set(want) | set(got)):
            if key not in got:
                out.append(f"record {i + 1}: {key} missing (expected {_show(want[key])})")
            elif key not in want:
                out.append(f"record {i + 1}: {key} unexpected ({_show(got[key])})")
            elif not _same(want[key], got[key]):
                out.append(f"record {i + 1}: {key}: expected {_show(want[key])}, got {_show(got[key])}")
            if len(out) >= limit:
                return out + ["..."]
    if expected.get("rejects", []) != actual["rejects"]:
        out.append(f"rejects: expected {_show(expected.get('rejects', []))}, got {_show(actual['rejects'])}")
    return out
