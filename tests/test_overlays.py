"""Overlay rule directories on top of the built-in rules: the precedence documented in
normalizer/loader.py, and the guarantees rules give about their output and input.

The built-in rule set is still growing, so only ``o365.audit.RecordType``,
``o365.audit.RecordTypeName`` and ``@timestamp`` (and the passthrough) are asserted on;
where a test needs a built-in value it is computed from the built-in rules themselves.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from normalizer.diagnostics import RuleLoadError
from normalizer.resources import builtin_rules_dir
from normalizer.ruleset import load_ruleset

RECORD = {"RecordType": "15", "CreationTime": "2024-05-06T07:08:09", "Operation": "UserLoggedIn", "Seq": 1}


def overlay(root: Path, name: str, files: dict[str, str]) -> Path:
    """A rule directory ``root/name`` holding ``files`` (relative path -> YAML text)."""
    directory = root / name
    for rel, text in files.items():
        path = directory / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return directory


def rules_file(*rules: str, stream: str = "audit", header: str = "") -> str:
    """A rule file from rule bodies written as YAML list items."""
    return f"version: 1\nstream: {stream}\n{header}rules:\n" + "".join(rules)


def load_errors(dirs: list[Path]) -> list:
    with pytest.raises(RuleLoadError) as info:
        load_ruleset(dirs)
    return info.value.diagnostics


@pytest.fixture(scope="module")
def builtin():
    return load_ruleset()


def test_the_builtin_baseline(builtin):
    flat = builtin.normalize_flat(RECORD)
    assert flat["o365.audit.RecordType"] == 15
    assert flat["o365.audit.RecordTypeName"] == "AzureActiveDirectoryStsLogon"
    assert flat["@timestamp"] == "2024-05-06T07:08:09Z"
    assert flat["o365.audit.Seq"] == 1


# --------------------------------------------------------------- rule ids


def test_a_rule_with_a_builtin_id_replaces_it(tmp_path, builtin):
    layer = overlay(tmp_path, "o", {"r.yaml": rules_file(
        "  - id: audit.common.record_type\n    set:\n      o365.audit.RT: .RecordType\n"
    )})
    rules = load_ruleset([layer])
    flat = rules.normalize_flat(RECORD)
    assert flat["o365.audit.RT"] == "15"
    assert "o365.audit.RecordTypeName" not in flat  # the built-in rule's targets are gone
    assert flat["o365.audit.RecordType"] == "15"  # not moved any more: the raw value passes through
    assert flat["@timestamp"] == "2024-05-06T07:08:09Z"  # other built-in rules are untouched
    assert rules.rule_count == builtin.rule_count
    (rule,) = [r for r in rules.compiled.rules if r.id == "audit.common.record_type"]
    assert str(layer) in rule.source


def test_disabled_removes_a_builtin_rule(tmp_path, builtin):
    layer = overlay(tmp_path, "o", {"off.yaml": rules_file("  - id: audit.common.record_type\n    disabled: true\n")})
    rules = load_ruleset([layer])
    flat = rules.normalize_flat(RECORD)
    assert "o365.audit.RecordTypeName" not in flat
    assert flat["o365.audit.RecordType"] == "15"
    assert rules.rule_count == builtin.rule_count - 1
    assert "audit.common.record_type" not in {r.id for r in rules.compiled.rules}


def test_disabling_an_unknown_id_changes_nothing(tmp_path, builtin):
    layer = overlay(tmp_path, "o", {"off.yaml": rules_file("  - id: no.such.rule\n    disabled: true\n")})
    rules = load_ruleset([layer])
    assert rules.rule_count == builtin.rule_count
    assert rules.normalize_flat(RECORD) == builtin.normalize_flat(RECORD)


def test_later_layers_win(tmp_path):
    def who(value: str) -> str:
        return rules_file(f"  - id: test.who\n    set:\n      o365.audit.Who: '\"{value}\"'\n")

    first = overlay(tmp_path, "first", {"r.yaml": who("first")})
    second = overlay(tmp_path, "second", {"r.yaml": who("second")})
    assert load_ruleset([first, second]).normalize_flat(RECORD)["o365.audit.Who"] == "second"
    assert load_ruleset([second, first]).normalize_flat(RECORD)["o365.audit.Who"] == "first"
    # A later layer can also disable what an earlier overlay added.
    off = overlay(tmp_path, "off", {"r.yaml": rules_file("  - id: test.who\n    disabled: true\n")})
    assert "o365.audit.Who" not in load_ruleset([first, off]).normalize_flat(RECORD)


def test_a_duplicate_id_within_one_layer_is_e109(tmp_path):
    rule = "  - id: test.twice\n    set:\n      o365.audit.A: .A\n"
    same_file = overlay(tmp_path, "one", {"r.yaml": rules_file(rule, rule)})
    (diag,) = [d for d in load_errors([same_file]) if d.code == "E109"]
    assert "test.twice" in diag.message
    assert diag.span.path == f"{same_file}/r.yaml" and diag.span.line == 7

    two_files = overlay(tmp_path, "two", {"a.yaml": rules_file(rule), "b/c.yaml": rules_file(rule)})
    (diag,) = [d for d in load_errors([two_files]) if d.code == "E109"]
    assert diag.span.path == f"{two_files}/b/c.yaml" and diag.span.line == 4
    assert f"{two_files}/a.yaml:4" in diag.message  # where it was first defined


def test_the_same_id_in_two_layers_is_not_an_error(tmp_path):
    rule = "  - id: test.same\n    set:\n      o365.audit.A: .A\n"
    a = overlay(tmp_path, "a", {"r.yaml": rules_file(rule)})
    b = overlay(tmp_path, "b", {"r.yaml": rules_file(rule)})
    assert load_ruleset([a, b]).normalize_flat({"A": 1})["o365.audit.A"] == 1


# ------------------------------------------------------------- enum tables

ENUM_NAME_RULE = rules_file("  - id: test.lname\n    set:\n      o365.audit.LName: enum_name(\"LogonType\", .L)\n")


def _logon_names(rules, codes) -> list:
    return [rules.normalize_flat({"L": code}).get("o365.audit.LName") for code in codes]


def _builtin_logon_codes() -> dict[int, str]:
    data = yaml.safe_load((builtin_rules_dir() / "enums" / "logon_type.yaml").read_text())
    assert data["enum"] == "LogonType"
    return {int(code): (v if isinstance(v, str) else v["name"]) for code, v in data["values"].items()}


def test_an_enum_overlay_extends_the_builtin_table(tmp_path):
    known = _builtin_logon_codes()
    new_code = max(known) + 1000
    layer = overlay(tmp_path, "o", {
        "rule.yaml": ENUM_NAME_RULE,
        "enums/logon.yaml": f"version: 1\nenum: LogonType\nsource: test\nvalues:\n  {new_code}: TestLogon\n",
    })
    rules = load_ruleset([layer])
    codes = sorted(known)
    assert _logon_names(rules, codes + [new_code]) == [known[c] for c in codes] + ["TestLogon"]
    flat = rules.normalize_flat({"L": new_code + 1})  # still unknown: a warning, no name
    assert "o365.audit.LName" not in flat and [w["code"] for w in flat["normalizer.warnings"]] == ["W300"]


def test_an_enum_overlay_with_replace_replaces_the_table(tmp_path):
    known = _builtin_logon_codes()
    new_code = max(known) + 1000
    layer = overlay(tmp_path, "o", {
        "rule.yaml": ENUM_NAME_RULE,
        "enums/logon.yaml": f"version: 1\nenum: LogonType\nsource: test\nreplace: true\nvalues:\n  {new_code}: TestLogon\n",
    })
    rules = load_ruleset([layer])
    assert _logon_names(rules, [new_code]) == ["TestLogon"]
    assert _logon_names(rules, sorted(known)) == [None] * len(known)


def test_rulesets_with_different_overlays_do_not_affect_each_other(tmp_path):
    extended = overlay(tmp_path, "ext", {
        "rule.yaml": ENUM_NAME_RULE,
        "enums/logon.yaml": "version: 1\nenum: LogonType\nsource: test\nvalues:\n  987654: TestLogon\n",
    })
    plain = overlay(tmp_path, "plain", {"rule.yaml": ENUM_NAME_RULE})
    first = load_ruleset([extended])
    second = load_ruleset([plain])
    assert _logon_names(first, [987654]) == ["TestLogon"]
    assert _logon_names(second, [987654]) == [None]
    assert _logon_names(load_ruleset([extended]), [987654]) == ["TestLogon"]


def test_a_new_enum_table_in_an_overlay(tmp_path):
    layer = overlay(tmp_path, "o", {
        "rule.yaml": rules_file("  - id: test.colour\n    set:\n      o365.audit.ColourName: enum_name(\"TestColour\", .C)\n"),
        "colour.yaml": "version: 1\nenum: TestColour\nsource: test\nvalues:\n  1: Red\n  2: Green\n",
    })
    rules = load_ruleset([layer])
    assert [rules.normalize_flat({"C": c}).get("o365.audit.ColourName") for c in (1, "2", 3)] == ["Red", "Green", None]


# ------------------------------------------------------------------ streams


def _builtin_stream(name: str) -> dict:
    data = yaml.safe_load((builtin_rules_dir() / "streams.yaml").read_text())
    (stream,) = [s for s in data["streams"] if s["name"] == name]
    return stream


def _streams_file(*streams: dict) -> str:
    return yaml.safe_dump({"version": 1, "streams": list(streams)}, sort_keys=False)


def test_a_new_stream_is_tried_before_the_builtin_ones(tmp_path, builtin):
    custom = {"name": "custom", "match": "exists(.Custom)", "passthrough": "o365.custom"}
    layer = overlay(tmp_path, "o", {"streams.yaml": _streams_file(custom)})
    rules = load_ruleset([layer])
    builtin_names = [s.name for s in builtin.source.streams]
    assert [s.name for s in rules.source.streams] == ["custom"] + builtin_names
    # Matches the built-in message stream too, but the new stream comes first.
    trace_row = {"MessageTraceId": "m-1", "Custom": True}
    assert rules.normalize_flat(trace_row) == {"o365.custom.MessageTraceId": "m-1", "o365.custom.Custom": True}
    assert any(key.startswith("o365.message.") for key in builtin.normalize_flat(trace_row))  # without the overlay
    assert rules.normalize_flat(RECORD) == builtin.normalize_flat(RECORD)  # other records as before


def test_a_new_stream_with_its_own_rules(tmp_path):
    custom = {"name": "custom", "match": "exists(.Custom)", "passthrough": "o365.custom", "let": {"k": "lower(.Custom)"}}
    layer = overlay(tmp_path, "o", {
        "streams.yaml": _streams_file(custom),
        "custom.yaml": rules_file(
            "  - id: test.custom\n    set:\n      o365.custom.Kind: $k\n    move:\n      o365.custom.Renamed: .Other\n",
            stream="custom",
        ),
    })
    rules = load_ruleset([layer])
    assert rules.normalize_flat({"Custom": "ABC", "Other": 1}) == {
        "o365.custom.Kind": "abc", "o365.custom.Custom": "ABC", "o365.custom.Renamed": 1,
    }
    (diag,) = load_errors([overlay(tmp_path, "bad", {"r.yaml": rules_file("  - id: t\n    set:\n      a.b: .x\n", stream="nostream")})])
    assert diag.code == "E113"


def test_a_stream_with_an_existing_name_replaces_it_in_place(tmp_path, builtin):
    audit = dict(_builtin_stream("audit"), passthrough="o365.raw_audit")
    layer = overlay(tmp_path, "o", {"my-streams.yaml": _streams_file(audit)})
    rules = load_ruleset([layer])
    assert [s.name for s in rules.source.streams] == [s.name for s in builtin.source.streams]
    (stream,) = [s for s in rules.source.streams if s.name == "audit"]
    assert stream.passthrough == "o365.raw_audit"
    flat = rules.normalize_flat(RECORD)
    assert flat["o365.raw_audit.Seq"] == 1 and "o365.audit.Seq" not in flat
    assert flat["o365.audit.RecordTypeName"] == "AzureActiveDirectoryStsLogon"  # the audit rules still run


def test_a_later_layer_replaces_an_earlier_overlay_stream(tmp_path):
    first = overlay(tmp_path, "a", {"s.yaml": _streams_file({"name": "custom", "match": "exists(.A)", "passthrough": "o365.ca"})})
    second = overlay(tmp_path, "b", {"s.yaml": _streams_file({"name": "custom", "match": "exists(.B)", "passthrough": "o365.cb"})})
    rules = load_ruleset([first, second])
    assert [s.name for s in rules.source.streams].count("custom") == 1
    assert rules.normalize_flat({"B": 1}) == {"o365.cb.B": 1}
    assert "o365.ca.A" not in rules.normalize_flat({"A": 1, "RecordType": 1})


# ------------------------------------------------------------ move and drop


def test_move_keeps_the_raw_field_from_being_passed_through_again(tmp_path):
    layer = overlay(tmp_path, "o", {"r.yaml": rules_file(
        "  - id: test.move\n    move:\n      o365.audit.Renamed: lower(.Foo)\n",
        "  - id: test.set\n    set:\n      o365.audit.Copied: lower(.Bar)\n",
    )})
    flat = load_ruleset([layer]).normalize_flat(dict(RECORD, Foo="FOO", Bar="BAR"))
    assert flat["o365.audit.Renamed"] == "foo" and "o365.audit.Foo" not in flat
    assert flat["o365.audit.Copied"] == "bar" and flat["o365.audit.Bar"] == "BAR"  # set: raw kept too


def test_a_move_that_produces_nothing_keeps_the_raw_value(tmp_path):
    layer = overlay(tmp_path, "o", {"r.yaml": rules_file("  - id: test.move\n    move:\n      o365.audit.N: to_int(.Foo)\n")})
    flat = load_ruleset([layer]).normalize_flat(dict(RECORD, Foo="not a number"))
    assert "o365.audit.N" not in flat and "o365.audit.Foo" not in flat
    assert flat["normalizer.raw.Foo"] == "not a number"  # the raw value is not lost
    assert [w["code"] for w in flat["normalizer.warnings"]] == ["E201"]


def test_drop_discards_a_field(tmp_path):
    layer = overlay(tmp_path, "o", {"r.yaml": rules_file("  - id: test.drop\n    drop: [Secret, Absent]\n")})
    record = dict(RECORD, Secret={"token": "x"}, Kept="y")
    flat = load_ruleset([layer]).normalize_flat(record)
    assert not any("Secret" in key for key in flat)
    assert "x" not in flat.values()
    assert flat["o365.audit.Kept"] == "y"


# ------------------------------------------------------- input is read-only


def test_writes_to_sub_keys_never_modify_the_input_record(tmp_path):
    layer = overlay(tmp_path, "o", {"r.yaml": rules_file(
        "  - id: test.copy\n    set:\n      o365.audit.Copy: .Obj\n      o365.audit.ListCopy: .Obj.List\n",
        "  - id: test.sub\n    set:\n"
        "      o365.audit.Copy.New: '\"x\"'\n"
        "      o365.audit.Copy.Inner.Deeper: '\"y\"'\n"
        "      o365.audit.Obj.Added: '\"z\"'\n"
        "      o365.audit.Obj.Inner.More: '\"w\"'\n",
    )})
    rules = load_ruleset([layer])
    record = dict(RECORD, Obj={"a": 1, "Inner": {"b": 2}, "List": [{"c": 3}]})
    before = copy.deepcopy(record)
    first = rules.normalize_flat(record)
    assert record == before
    assert first["o365.audit.Copy.New"] == "x" and first["o365.audit.Copy.Inner.Deeper"] == "y"
    assert first["o365.audit.Copy.a"] == 1 and first["o365.audit.Copy.Inner.b"] == 2
    assert first["o365.audit.Obj.Added"] == "z" and first["o365.audit.Obj.Inner.More"] == "w"
    assert first["o365.audit.Obj.a"] == 1 and first["o365.audit.Obj.Inner.b"] == 2
    assert first["o365.audit.ListCopy"] == [{"c": 3}]
    # Normalizing the same record again gives the same output: nothing leaked between runs.
    assert rules.normalize_flat(record) == first
    assert record == before
    tree = rules.normalize(record)
    assert tree["o365"]["audit"]["Copy"] is not record["Obj"]
    assert record == before


# ------------------------------------------------------------ let and $name


def test_a_file_let_is_readable_as_dollar_name(tmp_path):
    layer = overlay(tmp_path, "o", {"r.yaml": rules_file(
        "  - id: test.who\n    set:\n      o365.audit.Who: $who\n      o365.audit.Domain: $domain\n",
        header="let:\n  who: upper(.UserId)\n  domain: 'split(.UserId, \"@\")[1]'\n",
    )})
    flat = load_ruleset([layer]).normalize_flat(dict(RECORD, UserId="ann@example.com"))
    assert flat["o365.audit.Who"] == "ANN@EXAMPLE.COM" and flat["o365.audit.Domain"] == "example.com"


def test_an_unknown_variable_is_e117(tmp_path):
    layer = overlay(tmp_path, "o", {"r.yaml": rules_file("  - id: test.who\n    set:\n      o365.audit.Who: $nobody\n")})
    (diag,) = load_errors([layer])
    assert diag.code == "E117" and diag.span.line == 6


# -------------------------------------------------------- failures on records


def test_a_rule_failing_on_one_record_leaves_the_other_output_intact(tmp_path, builtin):
    layer = overlay(tmp_path, "o", {"r.yaml": rules_file(
        "  - id: test.fails\n    set:\n      o365.audit.Before: '\"b\"'\n      o365.audit.N: to_int(.X)\n"
        "      o365.audit.After: '\"a\"'\n",
        "  - id: test.fine\n    set:\n      o365.audit.Upper: upper(.Operation)\n",
    )})
    rules = load_ruleset([layer])
    bad = rules.normalize_flat(dict(RECORD, X="abc"))
    good = rules.normalize_flat(dict(RECORD, X="42"))
    assert good["o365.audit.N"] == 42 and "normalizer.warnings" not in good
    assert "o365.audit.N" not in bad and bad["o365.audit.X"] == "abc"
    (warning,) = bad["normalizer.warnings"]
    assert (warning["code"], warning["rule"], warning["target"]) == ("E201", "test.fails", "o365.audit.N")
    assert warning["source"] == f"{layer}/r.yaml:4"
    for key in ("o365.audit.Before", "o365.audit.After", "o365.audit.Upper", "o365.audit.RecordType",
                "o365.audit.RecordTypeName", "@timestamp"):
        assert bad[key] == good[key], key
    # The warning belongs to that record only.
    assert "normalizer.warnings" not in rules.normalize_flat(dict(RECORD, X="7"))


# -------------------------------------------------------------- YAML errors


def test_yaml_duplicate_keys_are_e102_at_the_right_line(tmp_path):
    layer = overlay(tmp_path, "o", {"r.yaml": (
        "version: 1\n"
        "stream: audit\n"
        "rules:\n"
        "  - id: test.dupes\n"
        "    set:\n"
        "      o365.audit.A: .A\n"
        "      o365.audit.B: .B\n"
        "      o365.audit.A: .C\n"
        "  - id: test.other\n"
        "    set:\n"
        "      o365.audit.D: .D\n"
        "    set:\n"
        "      o365.audit.E: .E\n"
    )})
    dupes = sorted((d.span.line, d.span.col, d.message) for d in load_errors([layer]) if d.code == "E102")
    assert [(line, col) for line, col, _ in dupes] == [(8, 7), (12, 5)]
    assert "o365.audit.A" in dupes[0][2] and "line 6" in dupes[0][2]
    assert "'set'" in dupes[1][2] and "line 10" in dupes[1][2]
    assert all(d.span.path == f"{layer}/r.yaml" for d in load_errors([layer]))


def test_every_problem_in_every_layer_is_reported_together(tmp_path):
    a = overlay(tmp_path, "a", {"r.yaml": rules_file("  - id: test.a\n    set:\n      o365.audit.A: lowr(.A)\n")})
    b = overlay(tmp_path, "b", {"r.yaml": "version: 1\nstream: audit\nrules:\n  - id: test.b\n    set: {o365.audit.B: .B, o365.audit.B: .C}\n"})
    codes = {(Path(d.span.path).parent.name, d.code) for d in load_errors([a, b, tmp_path / "missing"])}
    assert codes >= {("a", "E105"), ("b", "E102")}
    assert any(d.code == "E100" for d in load_errors([tmp_path / "missing"]))
