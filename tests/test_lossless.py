"""The lossless property: every leaf value of a raw record survives normalization.

Hypothesis generates audit records and message-trace rows in the documented shapes and in
the odd shapes real records take (numbers as strings, collections as strings, JSON inside
strings, IP formats, unknown codes, unicode, huge collections). For each one:

* every raw leaf value appears in the output, as a value or as part of an attribute name
  (a Name/Value entry's name becomes a key), possibly converted ("15" -> 15, "True" -> true,
  /Date(ms)/ -> ISO), except what the rules drop on purpose and document (OData __metadata,
  Graph's empty toIP/fromIP);
* the output validates against its stream's output schema;
* the output does not depend on the order of the keys in the input.
"""

from __future__ import annotations

import random
from decimal import Decimal, InvalidOperation

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from normalizer.codegen import compile_standalone
from normalizer.context import RecordContext
from normalizer.output_schema import output_validator
from normalizer.ruleset import load_ruleset
from normalizer.runtime import flatten

RULESET = load_ruleset()
VALIDATE = output_validator(RULESET)
_TO_TS = compile_standalone("to_timestamp(.v)")

SETTINGS = settings(max_examples=250, deadline=None, suppress_health_check=list(HealthCheck))

# -- strategies ------------------------------------------------------------------------
text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)
odd_text = st.sampled_from(["Příliš žluťoučký kůň", "監査ログ", "تدقيق", "🙂🚀", "e\u0301", "", " spaced ", "a.b c"])
guid = st.uuids().map(str)
numbers_as_text = st.integers(-5, 10**6).map(str)
record_types = st.sampled_from([1, 2, 3, 6, 8, 9, 14, 15, 18, 20, 22, 25, 28, 40, 41, 47, 50, 63, 65, 261, 372, 4242]) | \
    st.sampled_from(["15", "6", "Yammer", "NoSuchType"])
workloads = st.sampled_from(["AzureActiveDirectory", "Exchange", "SharePoint", "OneDrive", "MicrosoftTeams",
                             "SecurityComplianceCenter", "PowerBI", "Yammer", "ThreatIntelligence", "SomethingNew"])
timestamps = st.sampled_from(["2026-03-02T07:15:41", "2026-03-02T07:15:41Z", "2026-03-02T07:15:41.1234567",
                              "2026-03-02T09:15:41+02:00", "3/2/2026 7:15:41 AM"])
ips = st.sampled_from(["192.0.2.10", "::ffff:192.0.2.10", "192.0.2.10:4433", "[2001:db8::1]:443", "2001:DB8::1",
                       "host.contoso.com (198.51.100.4)", "", "Unknown", None])
bools_as_text = st.sampled_from(["True", "False", "true", "FALSE", True, False])
values = text | odd_text | numbers_as_text | bools_as_text | st.integers(-10, 10**9)


def name_value_list(names=text | odd_text):
    return st.lists(st.fixed_dictionaries({"Name": names, "Value": values}), max_size=6)


def collection():
    nv = name_value_list(st.sampled_from(["OS", "BrowserType", "IsCompliant", "IsCompliantAndManaged", "TrustType",
                                          "SessionId", "KeepMeSignedIn", "additionalDetails", "Identity", "a.b", "x y"]))
    big = st.integers(101, 130).map(lambda n: [{"Name": f"k{i}", "Value": str(i)} for i in range(n)])
    return st.one_of(
        nv,
        nv.map(lambda xs: orjson.dumps(xs).decode()),  # JSON inside a string
        text.map(lambda s: "-Name " + s),  # PowerShell-style / not JSON
        st.lists(text, max_size=3),  # bare strings
        big,  # over the cap
        st.lists(st.fixed_dictionaries({"Name": st.just("dup"), "Value": values}), min_size=2, max_size=3),  # duplicates
    )


modified = st.one_of(
    st.lists(st.fixed_dictionaries({"Name": st.sampled_from(["StrongAuthenticationMethod", "Included Updated Properties",
                                                             "TargetId.UserType", "x"]),
                                    "NewValue": st.sampled_from(['[{"MethodType": 7, "Default": true}]', "[]", '[{"x":1,"x":2}]', "plain", ""]),
                                    "OldValue": st.sampled_from(["[]", "", "old"])}), max_size=3),
    st.lists(st.sampled_from(["Subject", "Body", "Attachments"]), max_size=3),
)
actors = st.lists(st.fixed_dictionaries({"ID": text | guid, "Type": st.sampled_from([0, 1, 2, 3, 5, "0", "5", 9])}), max_size=3)
nested = st.recursive(values | st.none(), lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3), max_leaves=8)

audit_records = st.fixed_dictionaries(
    {"Id": guid, "RecordType": record_types, "CreationTime": timestamps, "Operation": text | odd_text},
    optional={
        "OrganizationId": guid, "UserType": st.sampled_from([0, 2, 4, 5, "0", "7"]), "UserKey": text, "UserId": text | odd_text,
        "Workload": workloads, "Version": st.sampled_from([1, "1", "2"]), "ResultStatus": st.sampled_from(["Succeeded", "Failed", "True", "InProgress"]),
        "ClientIP": ips, "ClientIPAddress": ips, "ActorIpAddress": ips, "Scope": st.sampled_from([0, 1, "1"]),
        "DeviceProperties": collection(), "ExtendedProperties": collection(), "Parameters": collection(),
        "OperationProperties": collection(), "ModifiedProperties": modified, "Actor": actors, "Target": actors,
        "AzureActiveDirectoryEventType": st.sampled_from([0, 1, "1"]), "LogonType": st.sampled_from([0, 1, 2, "3", 6]),
        "ItemType": st.sampled_from(["File", "Folder", "Web", 1, 5]), "EventSource": st.sampled_from(["SharePoint", 1]),
        "FileSizeBytes": st.sampled_from([23301, "4096", "1000.0", "1e3"]), "ExternalAccess": bools_as_text,
        "OperationCount": st.sampled_from([3, "12", "1e3"]), "AppAccessContext": st.dictionaries(text, values, max_size=3) | st.lists(st.dictionaries(text, values, max_size=2), max_size=2),
        "Item": st.fixed_dictionaries({"Id": text}, optional={"Subject": odd_text | text, "SizeInBytes": st.sampled_from([10, "2048"]), "ParentFolder": st.dictionaries(text, text, max_size=2)}),
        "Folders": st.lists(st.dictionaries(text, values, max_size=3), max_size=2),
        "Members": st.lists(st.fixed_dictionaries({"UPN": text, "Role": st.sampled_from([0, 1, 2, "1"])}), max_size=2),
        "Data": st.sampled_from(['{"sev":"High","wl":"Exchange"}', '{"a":1,"a":2}']),
        "Extra": nested, "Ünïcode kéy": odd_text, "ReportMetadata": st.sampled_from(['{"k": "v"}']),
    },
)

rws_rows = st.fixed_dictionaries(
    {"MessageTraceId": guid, "Received": st.sampled_from(["/Date(1658751973240)/", "\\/Date(1658751973240)\\/", "/Date(1658751973240+0000)/"]),
     "RecipientAddress": text, "Status": st.sampled_from(["Delivered", "FilteredAsSpam", "Expanded", "Failed", "Pending", "Quarantined", "GettingStatus", "None"])},
    optional={"__metadata": st.fixed_dictionaries({"id": text, "uri": text, "type": st.just("TenantReporting.MessageTrace")}),
              "Organization": text, "MessageId": text | st.none(), "SenderAddress": text, "Subject": odd_text | text,
              "ToIP": ips, "FromIP": ips, "Size": st.integers(0, 10**7) | numbers_as_text, "Index": st.integers(0, 99),
              "StartDate": st.just("/Date(1658700000000)/"), "EndDate": st.just("/Date(1658786400000)/")},
)
graph_rows = st.fixed_dictionaries(
    {"id": guid, "receivedDateTime": st.sampled_from(["2026-01-20T10:30:00Z", "2026-01-20T10:30:00.123Z"]), "recipientAddress": text,
     "status": st.sampled_from(["delivered", "filteredAsSpam", "quarantined", "recalled", "expanded", "failed", "pending", "gettingStatus"])},
    optional={"messageId": text, "senderAddress": text, "subject": odd_text | text, "size": st.integers(0, 10**7),
              "fromIP": ips, "toIP": st.sampled_from(["", "203.0.113.9"]), "futureField": nested},
)

# -- the lossless check ------------------------------------------------------------------
DROPPED_ON_PURPOSE = {"__metadata"}


def _norm(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return _num(str(value))
    text_value = value.strip()
    if text_value.lower() in ("true", "false"):
        return text_value.lower()
    if "Date(" in text_value:
        converted = _TO_TS({"v": text_value}, RecordContext())
        return (converted if isinstance(converted, str) else text_value).lower()
    return _num(text_value) if _num(text_value) is not None else text_value.lower()


def _num(text_value):
    try:
        return str(Decimal(text_value).normalize())
    except (InvalidOperation, ValueError):
        return None


STRUCTURAL_KEYS = {"Name", "Value", "NewValue", "OldValue", "Key"}  # the shape of Name/Value lists, not data


def _leaves(value, out, skip_keys=(), in_list=False, keys=True):
    if isinstance(value, dict):
        for k, v in value.items():
            if k in skip_keys:
                continue
            if keys and not (in_list and k in STRUCTURAL_KEYS):
                out.append(k)  # a key of the raw record is information too (it becomes an attribute name)
            _leaves(v, out, keys=keys)
    elif isinstance(value, list):
        if not value:
            out.append("[]")
        for v in value:
            _leaves(v, out, in_list=True, keys=keys)
    elif isinstance(value, str) and value.strip()[:1] in ("[", "{") and _json(value) is not None:
        out.append(value)  # JSON inside a string: either the string or its decoded content must survive
        out.append(("json", _json(value)))
    else:
        out.append(value)


def _json(text_value):
    try:
        return orjson.loads(text_value)
    except orjson.JSONDecodeError:
        return None


def _output_space(flat: dict) -> set:
    space = set()
    for key, value in flat.items():
        parts = [p[: -len("Original")] if p.endswith("Original") else p for p in key.split(".")]  # XOriginal keeps X as sent
        for i in range(len(parts)):
            for j in range(i + 1, len(parts) + 1):
                space.add(".".join(parts[i:j]).lower())
        found = []
        _leaves(value, found)
        for leaf in found:
            if isinstance(leaf, tuple):
                continue
            space.add(_norm(leaf) if not isinstance(leaf, str) or leaf != "[]" else "[]")
            if isinstance(leaf, str):
                space.add(leaf.lower())
        if value == {} or value == []:
            space.add("[]")
    return space


def assert_lossless(raw: dict, flat: dict, extra_drops=(), keys=True):
    """``keys``: raw key names must survive too (audit: X -> o365.audit.X); message-trace
    fields are renamed by a documented table, so only their values are checked."""
    space = _output_space(flat)
    leaves: list = []
    _leaves(raw, leaves, skip_keys=DROPPED_ON_PURPOSE, keys=keys)
    missing = []
    i = 0
    while i < len(leaves):
        leaf = leaves[i]
        i += 1
        if leaf in extra_drops:
            continue
        decoded = leaves[i] if i < len(leaves) and isinstance(leaves[i], tuple) else None
        if decoded is not None:
            i += 1
        if _present(leaf, space):
            continue
        if decoded is not None:
            inner: list = []
            _leaves(decoded[1], inner)
            if all(_present(x, space) for x in inner if not isinstance(x, tuple)):
                continue
        missing.append(leaf)
    assert not missing, f"lost {missing!r}\nraw={raw!r}\nout={flat!r}"


_BOOL_WORDS = {"1": "true", "yes": "true", "0": "false", "no": "false"}  # to_bool's other spellings


def _leaf_count(node) -> int:
    if isinstance(node, dict) and node:
        return sum(_leaf_count(v) for v in node.values())
    return 1


def _present(leaf, space) -> bool:
    key = _norm(leaf) if leaf != "[]" else "[]"
    if key in space:
        return True
    if isinstance(leaf, str):
        return leaf.lower() in space or _BOOL_WORDS.get(leaf.strip().lower()) in space
    if type(leaf) is int and leaf in (0, 1):
        return ("true" if leaf else "false") in space
    return False


def _check(raw, extra_drops=(), keys=True):
    flat = RULESET.normalize_flat(raw)
    tree = RULESET.normalize(raw)
    if _leaf_count(tree) == len(flatten(tree)):  # keys with dots can make two paths one flat key
        assert flat == flatten(tree), "the flat fast path differs from the nested rules"
    assert_lossless(raw, flat, extra_drops, keys)
    problems = VALIDATE(flat)
    assert not problems, f"{problems}\nraw={raw!r}\nout={flat!r}"
    shuffled = dict(sorted(raw.items(), key=lambda kv: random.Random(len(raw)).random()))
    again = RULESET.normalize_flat(dict(reversed(list(shuffled.items()))))
    assert orjson.dumps(again, option=orjson.OPT_SORT_KEYS) == orjson.dumps(flat, option=orjson.OPT_SORT_KEYS)
    return flat


@SETTINGS
@given(audit_records)
def test_audit_records_are_lossless_and_valid(raw):
    flat = _check(raw)
    assert "o365.audit.Id" in flat


@SETTINGS
@given(rws_rows)
def test_reporting_rows_are_lossless_and_valid(raw):
    flat = _check(raw, extra_drops=("",), keys=False)
    assert flat["o365.message.dialect"] == "reporting"
    assert flat["@timestamp"] == flat["o365.message.received"]


@SETTINGS
@given(graph_rows)
def test_graph_rows_are_lossless_and_valid(raw):
    flat = _check(raw, extra_drops=("",), keys=False)
    assert flat["o365.message.dialect"] == "graph"
    assert flat["o365.message.status"][0].isupper()


def test_unknown_workload_keeps_every_field():
    raw = {"Id": "x", "RecordType": 9999, "Workload": "BrandNewService", "CreationTime": "2026-01-01T00:00:00",
           "Widget": {"Parts": [{"a": 1}], "Colour": "blue"}, "Count": "7"}
    flat = RULESET.normalize_flat(raw)
    assert flat["o365.audit.Workload"] == "BrandNewService"
    assert flat["o365.audit.Widget.Colour"] == "blue"
    assert flat["o365.audit.Widget.Parts"] == [{"a": 1}]
    assert flat["o365.audit.Count"] == "7"
    assert flat["o365.audit.RecordType"] == 9999
    assert [w["code"] for w in flat["normalizer.warnings"]] == ["W300"]
