"""Unit tests of the builtin rule functions, calling the implementations directly.

The registered Examples are run through the expression compiler elsewhere; here each
impl is called as the engine would: ``impl(ctx, *args)`` when it takes a context,
with literal arguments already passed through ``compile_literal``.
"""

from __future__ import annotations

import re

import pytest

import normalizer.functions  # noqa: F401  (registers every builtin)
from normalizer.context import Options, RecordContext
from normalizer.diagnostics import RuleRuntimeError
from normalizer.functions import REGISTRY, Example
from normalizer.missing import MISSING


def call(name, *args, ctx=None):
    spec = REGISTRY[name]
    args = list(args)
    for i in spec.literal_args:
        if i < len(args) and spec.compile_literal is not None:
            args[i] = spec.compile_literal(i, args[i])
    if spec.takes_context:
        return spec.impl(ctx if ctx is not None else RecordContext(), *args)
    return spec.impl(*args)


def codes(ctx):
    return [w["code"] for w in ctx.warnings or []]


def raises(code, name, *args):
    with pytest.raises(RuleRuntimeError) as info:
        call(name, *args)
    assert info.value.code == code
    return info.value


# --- registry-wide properties -------------------------------------------------------

# The categories of this library; other modules (map/filter, enums) register their own.
CATEGORIES = {"logic", "convert", "text", "network", "time", "collections"}
LIBRARY = sorted(n for n, s in REGISTRY.items() if s.category in CATEGORIES)
# Functions whose first argument is plain data (not an enum table name or a per-element expression).
DATA_FIRST = sorted(n for n, s in REGISTRY.items() if s.enum_arg is None and not s.lambda_args)


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_every_function_is_documented(name):
    spec = REGISTRY[name]
    assert spec.doc and "\n" not in spec.doc
    assert len(spec.examples) >= 2
    assert all(isinstance(ex, Example) for ex in spec.examples)
    assert spec.category != "misc"


@pytest.mark.parametrize("name", ["clean_ip", "to_timestamp", "kv_map", "modified_properties"])
def test_tricky_functions_have_many_examples(name):
    assert len(REGISTRY[name].examples) >= 6


def _filler_args(spec):
    args = [MISSING]
    for i in range(1, spec.min_args):
        args.append(spec.compile_literal(i, "x") if i in spec.literal_args else "x")
    return args


@pytest.mark.parametrize("name", [n for n in DATA_FIRST if not REGISTRY[n].accepts_missing])
def test_missing_first_argument_gives_missing(name):
    spec = REGISTRY[name]
    args = _filler_args(spec)
    got = spec.impl(RecordContext(), *args) if spec.takes_context else spec.impl(*args)
    assert got is MISSING


@pytest.mark.parametrize("name", [n for n in LIBRARY if not REGISTRY[n].accepts_missing and n != "is_null"])
def test_null_first_argument_gives_null(name):
    spec = REGISTRY[name]
    args = [None] + _filler_args(spec)[1:]
    got = spec.impl(RecordContext(), *args) if spec.takes_context else spec.impl(*args)
    assert got is None


def test_the_expected_functions_are_registered():
    expected = {
        "exists", "coalesce", "is_null", "type_of", "if_else", "when",
        "to_int", "to_float", "to_number", "to_bool", "to_string", "parse_json", "try_json",
        "lower", "upper", "trim", "split", "join", "replace", "starts_with", "ends_with",
        "contains", "length", "regex_match", "regex_extract", "regex_replace",
        "clean_ip", "ip_port", "to_timestamp",
        "kv_map", "modified_properties", "kv_get", "get", "keys", "values", "merge",
        "without", "first", "last", "compact",
    }  # fmt: skip
    assert expected == set(LIBRARY)


# --- logic ----------------------------------------------------------------------------


def test_exists():
    assert call("exists", MISSING) is False
    assert call("exists", None) is True
    assert call("exists", "") is True


def test_coalesce():
    assert call("coalesce", MISSING, None, "", "x") == ""
    assert call("coalesce", MISSING, None, 0) == 0
    assert call("coalesce", MISSING, None) is MISSING
    assert call("coalesce", MISSING) is MISSING
    assert REGISTRY["coalesce"].min_args == 1 and REGISTRY["coalesce"].max_args is None


def test_is_null():
    assert call("is_null", None) is True
    assert call("is_null", 0) is False
    assert call("is_null", MISSING) is MISSING


@pytest.mark.parametrize(
    "value, name",
    [("a", "string"), (1, "int"), (1.5, "float"), (True, "bool"), (None, "null"),
     ([1], "list"), ({}, "object"), (MISSING, "missing")],
)  # fmt: skip
def test_type_of(value, name):
    assert call("type_of", value) == name


@pytest.mark.parametrize("cond", [MISSING, None, False, 0, 0.0, "", [], {}])
def test_if_else_falsy(cond):
    assert call("if_else", cond, "a", "b") == "b"


@pytest.mark.parametrize("cond", [True, 1, "0", "false", [0], {"a": None}])
def test_if_else_truthy(cond):
    assert call("if_else", cond, "a", "b") == "a"


def test_if_else_passes_missing_branches_through():
    assert call("if_else", True, MISSING, "b") is MISSING


# --- convert --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, expected",
    [(5, 5), (7.0, 7), (" 42 ", 42), ("1000.0", 1000), ("1e3", 1000), ("-5", -5), ("+3", 3),
     ("1E9", 10**9), (-0.0, 0)],
)  # fmt: skip
def test_to_int(value, expected):
    got = call("to_int", value)
    assert got == expected and type(got) is int


@pytest.mark.parametrize(
    "value", [True, False, 1.5, "1.5", "abc", "", "1_000", "0x10", "nan", "inf", float("nan"), [1], {}, "1e99999", "123456789012345678901", 1e30]
)
def test_to_int_rejects(value):
    raises("E201", "to_int", value)


def test_to_float():
    assert call("to_float", "1.5") == 1.5
    assert call("to_float", 2) == 2.0 and type(call("to_float", 2)) is float
    assert call("to_float", " 1e9 ") == 1e9
    for bad in [True, "x", "nan", "inf", "1e999", float("inf"), 10**400, []]:
        raises("E201", "to_float", bad)


def test_to_number():
    assert call("to_number", "1000.0") == 1000 and type(call("to_number", "1000.0")) is int
    assert call("to_number", "1e9") == 10**9
    assert call("to_number", 3.0) == 3 and type(call("to_number", 3.0)) is int
    assert call("to_number", "2.5") == 2.5
    assert call("to_number", 2.5) == 2.5
    assert call("to_number", 7) == 7
    for bad in [True, "", "n/a", float("nan"), "1.5e99999", {}]:
        raises("E201", "to_number", bad)


@pytest.mark.parametrize(
    "value, expected",
    [("True", True), ("true", True), ("TRUE", True), ("1", True), ("yes", True), (" True ", True),
     ("False", False), ("false", False), ("0", False), ("no", False),
     (True, True), (False, False), (1, True), (0, False)],
)  # fmt: skip
def test_to_bool(value, expected):
    assert call("to_bool", value) is expected


@pytest.mark.parametrize("value", [2, -1, 1.0, "maybe", "", "y", [], {}])
def test_to_bool_rejects(value):
    raises("E201", "to_bool", value)


def test_to_string():
    assert call("to_string", 15) == "15"
    assert call("to_string", 1.5) == "1.5"
    assert call("to_string", True) == "True"
    assert call("to_string", "x") == "x"
    assert call("to_string", [1, "b", None, True]) == '[1,"b",null,true]'
    assert call("to_string", {"k": "é"}) == '{"k":"é"}'
    assert call("to_string", [2**70]) == f"[{2**70}]"


def test_parse_json():
    ctx = RecordContext()
    assert call("parse_json", '{"UserType":"Member"}', ctx=ctx) == {"UserType": "Member"}
    assert call("parse_json", " \n[1, 2]\t", ctx=ctx) == [1, 2]
    assert call("parse_json", "\ufeff{\"a\": 1}", ctx=ctx) == {"a": 1}
    assert call("parse_json", "42", ctx=ctx) == 42
    assert call("parse_json", "null", ctx=ctx) is None
    assert call("parse_json", [1], ctx=ctx) == [1]
    assert call("parse_json", 5, ctx=ctx) == 5
    assert ctx.warnings is None


def test_parse_json_duplicate_keys_keep_the_last():
    ctx = RecordContext()
    assert call("parse_json", '{"k": 1, "k": 2}', ctx=ctx) == {"k": 2}
    assert ctx.warnings is None


@pytest.mark.parametrize("text", ["{not json", "[1,", "NaN", "{'a': 1}", '{"a":1} trailing', '"\\ud800"'])
def test_parse_json_invalid_warns_w303(text):
    ctx = RecordContext()
    assert call("parse_json", text, ctx=ctx) is MISSING
    assert codes(ctx) == ["W303"]


def test_parse_json_blank_is_missing_without_warning():
    ctx = RecordContext()
    assert call("parse_json", "", ctx=ctx) is MISSING
    assert call("parse_json", "  ", ctx=ctx) is MISSING
    assert ctx.warnings is None


def test_try_json():
    assert call("try_json", ' [{"Default": true, "MethodType": 7}]') == [{"Default": True, "MethodType": 7}]
    assert call("try_json", '{"a":1}') == {"a": 1}
    for unchanged in ["Member", "42", "true", "{broken", "", 5, [1], {"a": 1}]:
        assert call("try_json", unchanged) == unchanged


# --- text -----------------------------------------------------------------------------


def test_case_and_trim():
    assert call("lower", "SharePoint") == "sharepoint"
    assert call("upper", "delivered") == "DELIVERED"
    assert call("trim", " \t x y \n") == "x y"
    for name in ("lower", "upper", "trim"):
        raises("E202", name, 5)
        raises("E202", name, ["a"])


def test_split():
    assert call("split", "a,b,c", ",") == ["a", "b", "c"]
    assert call("split", "a:b:c", ":", 1) == ["a", "b:c"]
    assert call("split", "", ",") == [""]
    raises("E202", "split", 5, ",")
    raises("E202", "split", "a", "")
    raises("E202", "split", "a", ",", "1")


def test_join():
    assert call("join", ["x", "y"], ", ") == "x, y"
    assert call("join", ["x", None, 3, True, [1]], "-") == "x-3-True-[1]"
    assert call("join", [], ",") == ""
    raises("E202", "join", "x", ",")
    raises("E202", "join", ["x"], 1)


def test_replace_and_affixes():
    assert call("replace", "a.b.c", ".", "_") == "a_b_c"
    raises("E202", "replace", "a", 1, "b")
    assert call("starts_with", "OAuth2:Authorize", "OAuth2:") is True
    assert call("starts_with", "OAuth2:Authorize", "Login") is False
    assert call("ends_with", "bob@contoso.com", "@contoso.com") is True
    assert call("ends_with", "a.docx", ".pdf") is False
    raises("E202", "starts_with", 1, "a")
    raises("E202", "ends_with", "a", None)


def test_contains():
    assert call("contains", "Exchange Admin", "Admin") is True
    assert call("contains", "Exchange", "admin") is False
    assert call("contains", ["a", "b"], "b") is True
    assert call("contains", [1, 2], 2) is True
    assert call("contains", [True], 1) is False
    assert call("contains", [1], True) is False
    assert call("contains", {"k": None}, "k") is True
    assert call("contains", {"k": 1}, "v") is False
    raises("E202", "contains", 5, "a")
    raises("E202", "contains", "abc", 1)


def test_length():
    assert call("length", "abc") == 3
    assert call("length", [1, 2]) == 2
    assert call("length", {"a": 1}) == 1
    raises("E202", "length", 12)
    raises("E202", "length", True)


def test_regex_literal_compilation():
    spec = REGISTRY["regex_match"]
    assert spec.literal_args == (1,) and spec.literal_error_code == "E108"
    assert isinstance(spec.compile_literal(1, "a+"), re.Pattern)
    for name in ("regex_match", "regex_extract", "regex_replace"):
        compile_literal = REGISTRY[name].compile_literal
        with pytest.raises(ValueError, match="invalid regular expression"):
            compile_literal(1, "([a-z")
        with pytest.raises(ValueError):
            compile_literal(1, 5)


def test_regex_match():
    assert call("regex_match", "50140", "^[0-9]+$") is True
    assert call("regex_match", "x 50140", "[0-9]+") is True  # search, not match
    assert call("regex_match", "n/a", "^[0-9]+$") is False
    raises("E202", "regex_match", 50140, "[0-9]+")


def test_regex_extract():
    err = "-2147217390;PP_E_BAD_PASSWORD;The entered and stored passwords do not match."
    assert call("regex_extract", err, "PP_E_[A-Z_]+") == "PP_E_BAD_PASSWORD"
    assert call("regex_extract", err, r"^(-?\d+);") == "-2147217390"
    assert call("regex_extract", err, r"^(-?\d+);(\w+)", 2) == "PP_E_BAD_PASSWORD"
    assert call("regex_extract", "id 42", r"(\d+)", 0) == "42"
    assert call("regex_extract", "bob@contoso.com", r"(?P<user>[^@]+)@(?P<dom>.+)", "dom") == "contoso.com"
    assert call("regex_extract", "none", r"(\d+)") is MISSING
    assert call("regex_extract", "b", "(a)|(b)") is MISSING  # group 1 took no part
    raises("E200", "regex_extract", "abc", "(a)", 3)
    raises("E202", "regex_extract", "abc", "(a)", 1.5)


def test_regex_replace():
    assert call("regex_replace", "a1b22", "[0-9]", "#") == "a#b##"
    assert call("regex_replace", "bob@contoso.com", r"@(.+)", r" at \1") == "bob at contoso.com"
    raises("E200", "regex_replace", "abc", "(a)", r"\2")
    raises("E202", "regex_replace", "abc", "a", 1)


def test_regex_impl_receives_compiled_pattern():
    impl = REGISTRY["regex_extract"].impl
    assert impl("k=v", re.compile("=(.*)")) == "v"


# --- network --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, ip",
    [
        ("20.190.128.5", "20.190.128.5"),
        ("2001:DB8:0:0::1", "2001:db8::1"),
        ("1.2.3.4:5678", "1.2.3.4"),
        ("[2001:db8::1]:443", "2001:db8::1"),
        ("[2001:db8::1]", "2001:db8::1"),
        ("::ffff:1.2.3.4", "1.2.3.4"),
        ("::FFFF:1.2.3.4", "1.2.3.4"),
        ("[::ffff:1.2.3.4]:80", "1.2.3.4"),
        ("::ffff:1.2.3.4:80", "1.2.3.4"),
        ("host (1.2.3.4)", "1.2.3.4"),
        ("mail.contoso.com (2001:db8::5)", "2001:db8::5"),
        ("  10.0.0.1 \t", "10.0.0.1"),
        ("fe80::1%eth0", "fe80::1"),
        ("[fe80::1%12]:443", "fe80::1"),
    ],
)
def test_clean_ip(raw, ip):
    assert call("clean_ip", raw) == ip


@pytest.mark.parametrize(
    "raw",
    ["", "   ", "DB9PR04MB8462 (15.20.8005.017)", "host (not-an-ip)", "not an ip", "1.2.3",
     "256.1.1.1", "1.2.3.4:99999", "[2001:db8::1]:x", "01.2.3.4", 16909060, ["1.2.3.4"]],
)  # fmt: skip
def test_clean_ip_garbage_is_missing(raw):
    assert call("clean_ip", raw) is MISSING


def test_clean_ip_null_stays_null():
    assert call("clean_ip", None) is None


def test_ip_port():
    assert call("ip_port", "1.2.3.4:5678") == 5678
    assert call("ip_port", "[2001:db8::1]:443") == 443
    assert call("ip_port", "[::ffff:1.2.3.4]:80") == 80
    assert call("ip_port", "1.2.3.4") is MISSING
    assert call("ip_port", "[2001:db8::1]") is MISSING
    assert call("ip_port", "2001:db8::1:443") is MISSING  # a valid IPv6 address, no port
    assert call("ip_port", "x:80") is MISSING


# --- time -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("2020-02-10T15:13:13", "2020-02-10T15:13:13Z"),
        ("2020-02-10T15:13:13.1", "2020-02-10T15:13:13.1Z"),
        ("2020-02-10T15:13:13.1234567", "2020-02-10T15:13:13.1234567Z"),
        ("2020-02-10T15:13:13.1200000", "2020-02-10T15:13:13.1200000Z"),
        ("2020-02-10T15:13:13Z", "2020-02-10T15:13:13Z"),
        ("2020-02-10T15:13:13.5z", "2020-02-10T15:13:13.5Z"),
        ("2020-02-10T15:13:13+02:00", "2020-02-10T13:13:13Z"),
        ("2020-02-10T15:13:13.123-0530", "2020-02-10T20:43:13.123Z"),
        ("2020-02-10T23:30:00-01:00", "2020-02-11T00:30:00Z"),
        ("2020-02-10", "2020-02-10T00:00:00Z"),
        ("2020-02-10 15:13:13", "2020-02-10T15:13:13Z"),
        (" 2020-02-10T15:13:13 ", "2020-02-10T15:13:13Z"),
        ("/Date(1658751973240)/", "2022-07-25T12:26:13.240Z"),
        ("\\/Date(1658751973240)\\/", "2022-07-25T12:26:13.240Z"),
        ("/Date(1658751973240+0000)/", "2022-07-25T12:26:13.240Z"),
        ("/Date(1658751973240-0500)/", "2022-07-25T12:26:13.240Z"),
        ("/Date(1658751973000)/", "2022-07-25T12:26:13.000Z"),
        ("/Date(-1)/", "1969-12-31T23:59:59.999Z"),
        ("/Date(-86400000)/", "1969-12-31T00:00:00.000Z"),
        ("2/10/2020 3:13:13 PM", "2020-02-10T15:13:13Z"),
        ("2/10/2020 12:05:00 AM", "2020-02-10T00:05:00Z"),
        ("12/1/2020 12:00:00 pm", "2020-12-01T12:00:00Z"),
        ("2/10/2020 15:13:13", "2020-02-10T15:13:13Z"),
        ("2/10/2020", "2020-02-10T00:00:00Z"),
    ],
)
def test_to_timestamp_strings(raw, expected):
    assert call("to_timestamp", raw) == expected


@pytest.mark.parametrize(
    "raw, expected",
    [
        (1581347593, "2020-02-10T15:13:13Z"),
        (0, "1970-01-01T00:00:00Z"),
        (-60, "1969-12-31T23:59:00Z"),
        (1581347593.5, "2020-02-10T15:13:13.5Z"),
        (1581347593.0, "2020-02-10T15:13:13Z"),
        (1581347593000, "2020-02-10T15:13:13.000Z"),
        (1581347593123, "2020-02-10T15:13:13.123Z"),
        (1581347593123.9, "2020-02-10T15:13:13.123Z"),
        (99_999_999_999, "5138-11-16T09:46:39Z"),
        (100_000_000_000, "1973-03-03T09:46:40.000Z"),
    ],
)
def test_to_timestamp_epoch_numbers(raw, expected):
    assert call("to_timestamp", raw) == expected


def test_to_timestamp_keeps_seven_digit_precision_exactly():
    # A float round trip would turn .9999999 into 1.0 or lose the last digit.
    assert call("to_timestamp", "2020-02-10T15:13:13.9999999+01:00") == "2020-02-10T14:13:13.9999999Z"


@pytest.mark.parametrize(
    "raw",
    ["yesterday", "", "2020-02-30T00:00:00", "2020-13-01", "2020-02-10T25:00:00", "2020-02-10T15:13:13+25:00",
     "13/10/2020 1:00:00 PM", "2/10/2020 13:00:00 PM", "/Date(abc)/", "0001-01-01T00:00:00+01:00",
     "1581347593", True, float("nan"), float("inf"), 10**20, [1], {}],
)  # fmt: skip
def test_to_timestamp_rejects(raw):
    raises("E201", "to_timestamp", raw)


# --- collections: kv_map ------------------------------------------------------------


def nv(name, value):
    return {"Name": name, "Value": value}


def test_kv_map_basic():
    ctx = RecordContext()
    got = call("kv_map", [nv("OS", "Windows 10"), nv("IsCompliant", "False"), nv("N", 9)], ctx=ctx)
    assert got == {"OS": "Windows 10", "IsCompliant": "False", "N": 9}
    assert ctx.warnings is None


def test_kv_map_duplicates_first_wins():
    ctx = RecordContext()
    got = call("kv_map", [nv("OS", "a"), nv("OS", "b"), nv("X", 1), nv("OS", "c")], ctx=ctx)
    assert got == {"OS": "a", "X": 1, "_overflow": [nv("OS", "b"), nv("OS", "c")]}
    assert codes(ctx) == ["W301"]


def test_kv_map_odd_elements_go_to_raw_in_order():
    ctx = RecordContext()
    odd = ["stray", {"Name": "X"}, {"Name": "Y", "Value": 1, "Extra": 2}, 5, nv("", "empty"), nv(3, "n"), None]
    got = call("kv_map", [odd[0], nv("A", 1), *odd[1:]], ctx=ctx)
    assert got == {"A": 1, "_raw": odd}
    assert codes(ctx) == ["W301"]


def test_kv_map_cap():
    ctx = RecordContext(Options(collection_cap=2))
    got = call("kv_map", [nv("a", 1), nv("b", 2), nv("c", 3), nv("a", 9), nv("d", 4)], ctx=ctx)
    assert got == {"a": 1, "b": 2, "_overflow": [nv("c", 3), nv("a", 9), nv("d", 4)]}
    assert codes(ctx) == ["W301", "W302"]


def test_kv_map_cap_alone_warns_once():
    ctx = RecordContext(Options(collection_cap=1))
    got = call("kv_map", [nv("a", 1), nv("b", 2), nv("c", 3)], ctx=ctx)
    assert got == {"a": 1, "_overflow": [nv("b", 2), nv("c", 3)]}
    assert codes(ctx) == ["W302"]


def test_kv_map_reserved_names_overflow():
    ctx = RecordContext()
    got = call("kv_map", [nv("_raw", 1), nv("a", 2)], ctx=ctx)
    assert got == {"a": 2, "_overflow": [nv("_raw", 1)]}
    assert codes(ctx) == ["W301"]


def test_kv_map_strings():
    ctx = RecordContext()
    assert call("kv_map", ' [{"Name":"Identity","Value":"bob"}]', ctx=ctx) == {"Identity": "bob"}
    assert call("kv_map", '{"UserType":"Member"}', ctx=ctx) == {"UserType": "Member"}
    assert ctx.warnings is None
    assert call("kv_map", "-Identity bob", ctx=ctx) == {"_raw": "-Identity bob"}
    assert call("kv_map", "[broken", ctx=ctx) == {"_raw": "[broken"}
    assert codes(ctx) == ["W301", "W301"]


def test_kv_map_blank_string_is_empty():
    ctx = RecordContext()
    assert call("kv_map", "", ctx=ctx) == {}
    assert ctx.warnings is None


def test_kv_map_dict_is_an_already_built_map():
    ctx = RecordContext(Options(collection_cap=2))
    assert call("kv_map", {"a": 1}, ctx=ctx) == {"a": 1}
    assert ctx.warnings is None
    got = call("kv_map", {"a": 1, "b": 2, "c": 3}, ctx=ctx)
    assert got == {"a": 1, "b": 2, "_overflow": [nv("c", 3)]}
    assert codes(ctx) == ["W302"]


def test_kv_map_dict_carries_fallbacks_over():
    ctx = RecordContext()
    built = {"a": 1, "_raw": ["x"], "_overflow": [nv("a", 2)]}
    assert call("kv_map", built, ctx=ctx) == built
    assert codes(ctx) == ["W301"]  # the carried-over _raw is still reported


def test_kv_map_other_shapes():
    ctx = RecordContext()
    assert call("kv_map", [], ctx=ctx) == {}
    assert call("kv_map", None, ctx=ctx) is None
    assert call("kv_map", MISSING, ctx=ctx) is MISSING
    assert ctx.warnings is None
    assert call("kv_map", 5, ctx=ctx) == {"_raw": 5}
    assert call("kv_map", True, ctx=ctx) == {"_raw": True}
    assert codes(ctx) == ["W301", "W301"]


def test_kv_map_custom_keys():
    ctx = RecordContext()
    got = call("kv_map", [{"ID": "u1", "Type": 0}, {"Name": "x", "Value": 1}], "ID", "Type", ctx=ctx)
    assert got == {"u1": 0, "_raw": [{"Name": "x", "Value": 1}]}


def test_kv_map_does_not_mutate_input():
    data = [nv("a", [1]), nv("a", 2)]
    call("kv_map", data)
    assert data == [nv("a", [1]), nv("a", 2)]


# --- collections: modified_properties -------------------------------------------------


def test_modified_properties_basic():
    ctx = RecordContext()
    got = call(
        "modified_properties",
        [{"Name": "TargetId.UserType", "NewValue": "Member", "OldValue": "Guest"},
         {"Name": "Included Updated Properties", "NewValue": "StrongAuthenticationMethod"},
         {"Name": "Only", "OldValue": ""},
         {"Name": "Bare"}],
        ctx=ctx,
    )  # fmt: skip
    assert got == {
        "TargetId.UserType": {"NewValue": "Member", "OldValue": "Guest"},
        "Included Updated Properties": {"NewValue": "StrongAuthenticationMethod"},
        "Only": {"OldValue": ""},
        "Bare": {},
    }
    assert ctx.warnings is None


def test_modified_properties_parses_json_values():
    new = '[{"Default": true, "MethodType": 7}]'
    got = call("modified_properties", [{"Name": "M", "NewValue": new, "OldValue": "{broken"}])
    parsed = [{"Default": True, "MethodType": 7}]
    assert got == {"M": {"NewValue": new, "NewValueParsed": parsed, "OldValue": "{broken"}}
    got = call("modified_properties", [{"Name": "M", "NewValue": "42", "OldValue": '{"a":1}'}])
    assert got == {"M": {"NewValue": "42", "OldValue": '{"a":1}', "OldValueParsed": {"a": 1}}}


def test_modified_properties_mailbox_strings_unchanged():
    ctx = RecordContext()
    assert call("modified_properties", ["RecipientLimits", "IsRead"], ctx=ctx) == ["RecipientLimits", "IsRead"]
    assert call("modified_properties", '["IsRead"]', ctx=ctx) == ["IsRead"]
    assert call("modified_properties", [], ctx=ctx) == {}
    assert ctx.warnings is None


def test_modified_properties_fallbacks():
    ctx = RecordContext(Options(collection_cap=1))
    got = call(
        "modified_properties",
        [{"Name": "A", "NewValue": "1"}, "B", {"Name": "A", "NewValue": "2"},
         {"Name": "C", "NewValue": "3"}, {"Name": "D", "Value": "x"}],
        ctx=ctx,
    )  # fmt: skip
    assert got == {
        "A": {"NewValue": "1"},
        "_raw": ["B", {"Name": "D", "Value": "x"}],
        "_overflow": [{"Name": "A", "NewValue": "2"}, {"Name": "C", "NewValue": "3"}],
    }
    assert codes(ctx) == ["W301", "W301", "W302"]


def test_modified_properties_strings_and_dicts():
    ctx = RecordContext(Options(collection_cap=1))
    assert call("modified_properties", "Title", ctx=ctx) == {"_raw": "Title"}
    assert codes(ctx) == ["W301"]
    ctx = RecordContext(Options(collection_cap=1))
    got = call("modified_properties", {"A": {"NewValue": "1"}, "B": {"NewValue": "2"}}, ctx=ctx)
    assert got == {"A": {"NewValue": "1"}, "_overflow": [{"Name": "B", "NewValue": "2"}]}
    assert codes(ctx) == ["W302"]
    ctx = RecordContext()
    assert call("modified_properties", 7, ctx=ctx) == {"_raw": 7}
    assert codes(ctx) == ["W301"]


# --- collections: the rest ------------------------------------------------------------


def test_kv_get():
    props = [nv("UserAgent", "Mozilla/5.0"), nv("KeepMeSignedIn", "true"), nv("UserAgent", "second")]
    assert call("kv_get", props, "UserAgent") == "Mozilla/5.0"
    assert call("kv_get", props, "TrustType") is MISSING
    assert call("kv_get", [{"Name": "x"}], "x") is MISSING
    assert call("kv_get", {"UserType": "Member"}, "UserType") == "Member"
    assert call("kv_get", '{"UserType":"Member"}', "UserType") == "Member"
    assert call("kv_get", '[{"Name":"a","Value":1}]', "a") == 1
    assert call("kv_get", "-Identity bob", "Identity") is MISSING
    assert call("kv_get", [{"Key": "a", "Val": 1}], "a", "Key", "Val") == 1
    assert call("kv_get", 5, "a") is MISSING


def test_get():
    assert call("get", {"odd key": 1}, "odd key") == 1
    assert call("get", {"a": None}, "a") is None
    assert call("get", {}, "a") is MISSING
    assert call("get", ["a", "b"], 1) == "b"
    assert call("get", ["a", "b"], -1) == "b"
    assert call("get", ["a"], 5) is MISSING
    assert call("get", ["a"], "0") is MISSING
    raises("E202", "get", "abc", 0)


def test_keys_values():
    assert call("keys", {"a": 1, "b": 2}) == ["a", "b"]
    assert call("values", {"a": 1, "b": 2}) == [1, 2]
    raises("E202", "keys", [1])
    raises("E202", "values", "x")


def test_merge():
    a = {"x": 1, "y": 1}
    assert call("merge", a, {"y": 2, "z": 3}) == {"x": 1, "y": 2, "z": 3}
    assert a == {"x": 1, "y": 1}
    assert call("merge", a, MISSING) == a
    assert call("merge", a, None) == a
    raises("E202", "merge", a, [1])
    raises("E202", "merge", [1], a)


def test_without():
    obj = {"a": 1, "b": 2, "c": 3}
    assert call("without", obj, ["b", "c", "zz"]) == {"a": 1}
    assert call("without", obj, "a") == {"b": 2, "c": 3}
    assert obj == {"a": 1, "b": 2, "c": 3}
    raises("E202", "without", [1], "a")
    raises("E202", "without", obj, 1)


def test_first_last():
    assert call("first", ["a", "b"]) == "a"
    assert call("last", ["a", "b"]) == "b"
    assert call("first", []) is MISSING
    assert call("last", []) is MISSING
    raises("E202", "first", "ab")
    raises("E202", "last", {"a": 1})


def test_compact():
    assert call("compact", ["a", None, "", 0, False, [], " "]) == ["a", 0, False, [], " "]
    assert call("compact", {"a": 1, "b": None, "c": ""}) == {"a": 1}
    raises("E202", "compact", "x")
