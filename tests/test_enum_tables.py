"""Data checks of the built-in enum tables in ``rules/enums/*.yaml``.

Each table must match ``schemas/enum.schema.json``, map every code to its own name,
and keep its aliases clear of other codes' names. RecordType also gets a census of
its documented entries and a few spot checks. Only files inside the repository are read.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator

ROOT = Path(__file__).resolve().parent.parent
ENUM_DIR = ROOT / "rules" / "enums"
SCHEMA = json.loads((ROOT / "schemas" / "enum.schema.json").read_text(encoding="utf-8"))
ENUM_FILES = sorted(ENUM_DIR.glob("*.yaml"))


def _stringify_keys(value):
    """JSON has only string keys; YAML gives ints for numeric keys such as 15 or -1."""
    if isinstance(value, dict):
        return {str(k): _stringify_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_stringify_keys(v) for v in value]
    return value


def _load(path: Path) -> dict:
    with path.open(encoding="utf-8") as f:
        return _stringify_keys(yaml.safe_load(f))


def _name(entry) -> str:
    return entry if isinstance(entry, str) else entry["name"]


def _fold(text: str) -> str:
    # the same folding the decoder applies to names: case, spaces and underscores ignored
    return text.replace(" ", "").replace("_", "").lower()


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


TABLES = {p.name: _load(p) for p in ENUM_FILES}


def test_enum_directory_is_populated():
    assert len(ENUM_FILES) >= 20
    assert "record_type.yaml" in TABLES


@pytest.mark.parametrize("filename", sorted(TABLES))
def test_validates_against_schema(filename):
    errors = sorted(Draft202012Validator(SCHEMA).iter_errors(TABLES[filename]), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)


@pytest.mark.parametrize("filename", sorted(TABLES))
def test_file_name_matches_table_name(filename):
    assert filename == _snake(TABLES[filename]["enum"]) + ".yaml"


def test_table_names_are_unique():
    names = [t["enum"] for t in TABLES.values()]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("filename", sorted(TABLES))
def test_source_and_description_present(filename):
    table = TABLES[filename]
    assert isinstance(table.get("source"), str) and table["source"].strip()
    assert isinstance(table.get("description"), str) and table["description"].strip()


@pytest.mark.parametrize("filename", sorted(TABLES))
def test_names_unique_within_table(filename):
    seen: dict[str, str] = {}
    for code, entry in TABLES[filename]["values"].items():
        folded = _fold(_name(entry))
        assert folded not in seen, f"{filename}: codes {seen[folded]} and {code} share the name {_name(entry)!r}"
        seen[folded] = code


@pytest.mark.parametrize("filename", sorted(TABLES))
def test_aliases_do_not_collide(filename):
    table = TABLES[filename]
    by_name = {_fold(_name(e)): int(c) for c, e in table["values"].items()}
    codes = {int(c) for c in table["values"]}
    alias_seen: dict[str, int] = {}
    for alias, code in (table.get("aliases") or {}).items():
        assert code in codes, f"{filename}: alias {alias!r} points at {code}, which is not in the table"
        folded = _fold(alias)
        if folded in by_name:
            assert by_name[folded] == code, f"{filename}: alias {alias!r} -> {code} collides with the name of code {by_name[folded]}"
        if folded in alias_seen:
            assert alias_seen[folded] == code, f"{filename}: alias {alias!r} given for {alias_seen[folded]} and {code}"
        alias_seen[folded] = code


@pytest.mark.parametrize("filename", sorted(TABLES))
def test_names_are_identifier_like(filename):
    # names are what the rules emit; display text (spaces, commas) belongs in notes/aliases
    for code, entry in TABLES[filename]["values"].items():
        assert re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", _name(entry)), f"{filename}: {code} -> {_name(entry)!r}"


# -- RecordType -----------------------------------------------------------------------

RECORD_TYPE = TABLES["record_type.yaml"]
RT_VALUES = {int(c): e for c, e in RECORD_TYPE["values"].items()}


def _documented(entry) -> bool:
    return isinstance(entry, str) or entry.get("confidence", "documented") == "documented"


def test_record_type_documented_census():
    documented = {c for c, e in RT_VALUES.items() if _documented(e)}
    assert len(documented) == 257
    assert min(documented) == 1 and max(documented) == 463
    # the doc entries that carry a conflict note (the rest are plain strings)
    annotated = {c for c in documented if not isinstance(RT_VALUES[c], str)}
    assert annotated == {79, 103, 187, 217, 218}
    assert all(RT_VALUES[c].get("note") for c in annotated)


def test_record_type_undocumented_entries_are_high_or_medium():
    for code, entry in RT_VALUES.items():
        if _documented(entry):
            continue
        assert entry["confidence"] in ("high", "medium"), code
        assert entry.get("note"), code


def test_record_type_low_confidence_ranges_left_out():
    assert not set(RT_VALUES) & (set(range(132, 147)) | set(range(238, 251)))
    assert 219 not in RT_VALUES


def test_record_type_removed_values_present():
    removed = {12: "Sway", 26: "MicrosoftTeamsAddOns", 27: "MicrosoftTeamsSettingsOperation", 77: "Search",
               81: "MDATPAudit", 110: "MSDEResponseActions", 111: "MSDEGeneralSettings",
               112: "MSDEIndicatorsSettings", 114: "MSDERolesSettings", 131: "OfficeScriptsRunAction"}
    for code, name in removed.items():
        entry = RT_VALUES[code]
        assert entry["name"] == name and entry["confidence"] == "high"
        assert entry["note"].startswith("removed from the current doc")


@pytest.mark.parametrize("code,name", [
    (15, "AzureActiveDirectoryStsLogon"),
    (25, "MicrosoftTeams"),
    (22, "Yammer"),
    (44, "VivaInsights"),
    (216, "VivaGoals"),
    (463, "VivaGlintAgenticCampaign"),
    (372, "CrossTenantAccessPolicy"),
    (261, "CopilotInteraction"),
    (1, "ExchangeAdmin"),
    (6, "SharePointFileOperation"),
])
def test_record_type_spot_checks(code, name):
    assert _name(RT_VALUES[code]) == name


@pytest.mark.parametrize("alias,code", [
    ("Viva Engage", 22), ("WorkplaceAnalytics", 44), ("Viva Goals", 216), ("Submissions", 29),
    ("QuarantineAuditRecord", 65), ("MicrosoftTeamsUpdates", 230),
])
def test_record_type_aliases(alias, code):
    assert RECORD_TYPE["aliases"][alias] == code


def test_inferred_example():
    entry = RT_VALUES[80]
    assert (entry["name"], entry["confidence"]) == ("PowerPlatformAdminEnvironment", "medium")


# -- other tables ------------------------------------------------------------------------

def _codes(filename: str) -> dict[int, str]:
    return {int(c): _name(e) for c, e in TABLES[filename]["values"].items()}


def test_small_table_spot_checks():
    assert _codes("user_type.yaml") == {0: "Regular", 1: "Reserved", 2: "Admin", 3: "DCAdmin", 4: "System",
                                        5: "Application", 6: "ServicePrincipal", 7: "CustomPolicy",
                                        8: "SystemPolicy", 9: "PartnerTechnician", 10: "Guest"}
    assert _codes("identity_type.yaml") == {0: "Claim", 1: "Name", 2: "Other", 3: "PUID", 4: "SPN", 5: "UPN"}
    assert _codes("share_point_item_type.yaml")[6] == "Web"
    assert _codes("credential_type.yaml")[-1] == "Other"
    assert _codes("mdo_file_verdict.yaml")[-3] == "Pending"
    assert list(_codes("message_trace_status.yaml").values()) == [
        "GettingStatus", "Pending", "Failed", "Delivered", "Expanded", "Quarantined",
        "FilteredAsSpam", "UnknownFutureValue", "Recalled", "None"]


def test_tables_load_through_the_engine():
    """The engine's own loader accepts every table (same folding, overlay and schema rules)."""
    from normalizer.enums import table_from_data

    for filename, data in TABLES.items():
        table = table_from_data(data, filename)
        for code, name in table.codes.items():
            assert table.lookup_code(name) == code
            assert table.lookup_code(name.upper()) == code
        for alias, code in table.aliases.items():
            assert table.lookup_code(alias) == code
