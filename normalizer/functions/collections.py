"""Lists, objects and the Name/Value collections of Microsoft 365 records.

``kv_map`` and ``modified_properties`` never drop data. Elements of an unexpected
shape are kept in ``_raw``; repeated names, names that collide with the two
fallback keys, and names beyond ``Options.collection_cap`` are kept in ``_overflow``.
"""

from __future__ import annotations

from typing import Any, Callable

from ..diagnostics import RuleRuntimeError
from ..missing import MISSING
from .convert import brief, parse_json_container, strip_json_text
from .registry import Example, Raises, register

RAW = "_raw"
OVERFLOW = "_overflow"
_NOT_THERE = object()  # a default no value from a record can be equal to


class _MapBuilder:
    """Builds one map plus its fallback lists, then records the warnings they need."""

    def __init__(self, ctx: Any, fn: str):
        self.ctx, self.fn = ctx, fn
        self.cap = ctx.options.collection_cap
        self.map: dict = {}
        self.raw: list = []
        self.overflow: list = []
        self.duplicates: list = []
        self.capped = 0

    def add(self, name: str, value: Any, original: Any) -> None:
        if name in self.map or name in (RAW, OVERFLOW):
            self.overflow.append(original)
            self.duplicates.append(name)
        elif len(self.map) >= self.cap:
            self.overflow.append(original)
            self.capped += 1
        else:
            self.map[name] = value

    def finish(self) -> dict:
        if self.raw:
            self.ctx.warn("W301", f"{self.fn}: {len(self.raw)} element(s) of an unexpected shape kept in {RAW}")
            self.map[RAW] = self.raw
        if self.duplicates:
            self.ctx.warn("W301", f"{self.fn}: repeated or reserved names kept in {OVERFLOW}: {brief(self.duplicates)}")
        if self.capped:
            self.ctx.warn("W302", f"{self.fn}: more than {self.cap} names; {self.capped} kept in {OVERFLOW}")
        if self.overflow:
            self.map[OVERFLOW] = self.overflow
        return self.map


def _build(
    ctx: Any,
    fn: str,
    x: Any,
    entry: Callable[[Any], tuple[str, Any] | None],
    unbuild: Callable[[str, Any], Any],
) -> Any:
    """Shared shape handling: ``entry`` reads one list element, ``unbuild`` turns a map item back into one."""
    if x is MISSING or x is None:
        return x
    if isinstance(x, str):
        parsed = parse_json_container(x)
        if parsed is MISSING:
            if not strip_json_text(x):
                return {}  # an empty string carries no collection
            ctx.warn("W301", f"{fn}: expected a list, got a string; kept in {RAW}")
            return {RAW: x}
        x = parsed
    builder = _MapBuilder(ctx, fn)
    if isinstance(x, list):
        for element in x:
            found = entry(element)
            if found is None:
                builder.raw.append(element)
            else:
                builder.add(found[0], found[1], element)
    elif isinstance(x, dict):  # an already-built map; fallback lists from an earlier build are carried over
        for key, value in x.items():
            if key in (RAW, OVERFLOW) and isinstance(value, list):
                getattr(builder, "raw" if key == RAW else "overflow").extend(value)
            else:
                builder.add(key, value, unbuild(key, value))
    else:
        ctx.warn("W301", f"{fn}: expected a list, got {brief(x)}; kept in {RAW}")
        return {RAW: x}
    return builder.finish()


def _plain_kv(x: list, name_key: str, value_key: str, cap: int) -> dict | None:
    """The common case in one pass: well-formed entries, unique names, under the cap.
    None sends anything else through the full shape handling of _build."""
    if len(x) > cap:
        return None
    out: dict = {}
    for element in x:
        if element.__class__ is not dict or len(element) != 2 or value_key not in element:
            return None
        name = element.get(name_key)
        if name.__class__ is not str or not name or name in out:
            return None
        out[name] = element[value_key]
    if RAW in out or OVERFLOW in out:
        return None
    return out


def _name_of(element: Any, name_key: str) -> str | None:
    name = element.get(name_key) if isinstance(element, dict) else None
    return name if isinstance(name, str) and name else None


@register(
    "kv_map",
    args=(1, 3),
    takes_context=True,
    category="collections",
    doc="Turn a [{Name, Value}] list into an object {Name: Value}; odd elements go to _raw, "
    "repeated names (and names past the cap) to _overflow.",
    examples=[
        Example(
            "kv_map(.p)",
            {"p": [{"Name": "OS", "Value": "Windows 10"}, {"Name": "IsCompliant", "Value": "False"}]},
            {"OS": "Windows 10", "IsCompliant": "False"},
        ),
        Example(
            "kv_map(.p)",
            {"p": [{"Name": "OS", "Value": "Windows"}, {"Name": "OS", "Value": "MacOs"}]},
            {"OS": "Windows", "_overflow": [{"Name": "OS", "Value": "MacOs"}]},
            warnings=("W301",),
        ),
        Example(
            "kv_map(.p)",
            {"p": [{"Name": "OS", "Value": "Windows"}, "stray", {"Name": "X"}]},
            {"OS": "Windows", "_raw": ["stray", {"Name": "X"}]},
            warnings=("W301",),
        ),
        Example("kv_map(.p)", {"p": '[{"Name":"Identity","Value":"bob"}]'}, {"Identity": "bob"}),
        Example("kv_map(.p)", {"p": "-Identity bob"}, {"_raw": "-Identity bob"}, warnings=("W301",)),
        Example("kv_map(.p)", {"p": {"UserType": "Member"}}, {"UserType": "Member"}),
        Example("kv_map(.p)", {"p": []}, {}),
        Example('kv_map(.p, "Key", "Val")', {"p": [{"Key": "a", "Val": 1}]}, {"a": 1}),
        Example("kv_map(.p)", {"p": None}, None),
    ],
)
def kv_map(ctx: Any, x: Any, name_key: str = "Name", value_key: str = "Value") -> Any:
    if x.__class__ is list:
        plain = _plain_kv(x, name_key, value_key, ctx.options.collection_cap)
        if plain is not None:
            return plain
    keys = {name_key, value_key}

    def entry(element: Any) -> tuple[str, Any] | None:
        name = _name_of(element, name_key)
        if name is None or element.keys() != keys:
            return None
        return name, element[value_key]

    return _build(ctx, "kv_map", x, entry, lambda k, v: {name_key: k, value_key: v})


_CHANGE_KEYS = ("NewValue", "OldValue")
_MODIFIED_KEYS = frozenset({"Name", *_CHANGE_KEYS})


def _change(element: Any) -> tuple[str, Any] | None:
    name = _name_of(element, "Name")
    if name is None or not element.keys() <= _MODIFIED_KEYS:
        return None
    change: dict = {}
    for key in _CHANGE_KEYS:
        if key in element:
            change[key] = element[key]
            parsed = parse_json_container(element[key]) if isinstance(element[key], str) else MISSING
            if parsed is not MISSING:
                change[key + "Parsed"] = parsed
    return name, change


def _unchange(name: str, value: Any) -> dict:
    return {"Name": name, **value} if isinstance(value, dict) else {"Name": name, "Value": value}


@register(
    "modified_properties",
    args=1,
    takes_context=True,
    category="collections",
    doc="Turn a [{Name, NewValue, OldValue}] list into {Name: {NewValue, OldValue}}, adding "
    "NewValueParsed/OldValueParsed for JSON values; a list of plain strings is kept as is.",
    examples=[
        Example(
            "modified_properties(.m)",
            {"m": [{"Name": "TargetId.UserType", "NewValue": "Member", "OldValue": "Guest"}]},
            {"TargetId.UserType": {"NewValue": "Member", "OldValue": "Guest"}},
        ),
        Example(
            "modified_properties(.m)",
            {"m": [{"Name": "StrongAuthenticationMethod", "NewValue": '[{"MethodType":7}]', "OldValue": "[]"}]},
            {
                "StrongAuthenticationMethod": {
                    "NewValue": '[{"MethodType":7}]',
                    "NewValueParsed": [{"MethodType": 7}],
                    "OldValue": "[]",
                    "OldValueParsed": [],
                }
            },
        ),
        Example("modified_properties(.m)", {"m": [{"Name": "Title", "NewValue": "x"}]}, {"Title": {"NewValue": "x"}}),
        Example("modified_properties(.m)", {"m": ["RecipientLimits", "IsRead"]}, ["RecipientLimits", "IsRead"]),
        Example("modified_properties(.m)", {"m": []}, {}),
        Example(
            "modified_properties(.m)",
            {"m": [{"Name": "A", "NewValue": "1"}, {"Name": "A", "NewValue": "2"}]},
            {"A": {"NewValue": "1"}, "_overflow": [{"Name": "A", "NewValue": "2"}]},
            warnings=("W301",),
        ),
        Example(
            "modified_properties(.m)",
            {"m": [{"Name": "A", "NewValue": "1"}, "B"]},
            {"A": {"NewValue": "1"}, "_raw": ["B"]},
            warnings=("W301",),
        ),
        Example("modified_properties(.m)", {"m": "Title"}, {"_raw": "Title"}, warnings=("W301",)),
    ],
)
def modified_properties(ctx: Any, x: Any) -> Any:
    if x.__class__ is list and not x:
        return {}  # what _build gives for an empty list, sooner (Entra sends many)
    if isinstance(x, str):
        parsed = parse_json_container(x)
        x = x if parsed is MISSING else parsed
    if isinstance(x, list) and x and all(isinstance(item, str) for item in x):
        return list(x)  # the Exchange mailbox shape: just property names
    return _build(ctx, "modified_properties", x, _change, _unchange)


@register(
    "kv_get",
    args=(2, 4),
    category="collections",
    doc="The Value for one Name in a [{Name, Value}] list (or a key of an object, or of JSON text "
    "holding either); absent if not there.",
    examples=[
        Example('kv_get(.p, "UserAgent")', {"p": [{"Name": "UserAgent", "Value": "Mozilla/5.0"}]}, "Mozilla/5.0"),
        Example('kv_get(.p, "TrustType")', {"p": [{"Name": "OS", "Value": "Windows"}]}, MISSING),
        Example('kv_get(.p, "UserType")', {"p": '{"UserType":"Member"}'}, "Member"),
        Example('kv_get(.p, "a", "Key", "Val")', {"p": [{"Key": "a", "Val": 1}]}, 1),
    ],
)
def kv_get(x: Any, name: Any, name_key: str = "Name", value_key: str = "Value") -> Any:
    if x.__class__ is list:  # the usual shape first: a list of {Name, Value} objects
        for element in x:
            if element.__class__ is dict:
                if element.get(name_key, _NOT_THERE) == name:
                    return element.get(value_key, MISSING)
            elif isinstance(element, dict) and name_key in element and element[name_key] == name:
                return element.get(value_key, MISSING)
        return MISSING
    if x is MISSING or x is None:
        return x
    if isinstance(x, str):
        x = parse_json_container(x)
    if isinstance(x, dict):
        return x.get(name, MISSING) if isinstance(name, str) else MISSING
    if isinstance(x, list):
        for element in x:
            if isinstance(element, dict) and name_key in element and element[name_key] == name:
                return element.get(value_key, MISSING)
    return MISSING


def _need(fn: str, x: Any, kinds: type | tuple[type, ...], what: str) -> None:
    if not isinstance(x, kinds):
        raise RuleRuntimeError("E202", f"{fn}: the value must be {what}, got {brief(x)}")


@register(
    "get",
    args=2,
    category="collections",
    doc="The value under a key of an object, or at an index of a list; absent if not there.",
    examples=[
        Example('get(.o, "odd key")', {"o": {"odd key": 1}}, 1),
        Example("get(.l, 1)", {"l": ["a", "b"]}, "b"),
        Example('get(.o, "x")', {"o": {}}, MISSING),
    ],
)
def get(obj: Any, key: Any) -> Any:
    if obj is MISSING or obj is None:
        return obj
    _need("get", obj, (dict, list), "an object or a list")
    if isinstance(obj, dict):
        return obj.get(key, MISSING) if isinstance(key, str) else MISSING
    if isinstance(key, int) and not isinstance(key, bool) and -len(obj) <= key < len(obj):
        return obj[key]
    return MISSING


@register(
    "keys",
    args=1,
    category="collections",
    doc="The keys of an object, in order.",
    examples=[Example("keys(.o)", {"o": {"a": 1, "b": 2}}, ["a", "b"]), Example("keys(.o)", {"o": {}}, [])],
)
def keys(obj: Any) -> Any:
    if obj is MISSING or obj is None:
        return obj
    _need("keys", obj, dict, "an object")
    return list(obj)


@register(
    "values",
    args=1,
    category="collections",
    doc="The values of an object, in order.",
    examples=[
        Example("values(.o)", {"o": {"a": 1, "b": 2}}, [1, 2]),
        Example("values(.o)", {"o": "x"}, Raises("E202")),
    ],
)
def values(obj: Any) -> Any:
    if obj is MISSING or obj is None:
        return obj
    _need("values", obj, dict, "an object")
    return list(obj.values())


@register(
    "merge",
    args=2,
    category="collections",
    doc="A shallow merge of two objects; keys of the second win. An absent or null second object adds nothing.",
    examples=[
        Example("merge(.a, .b)", {"a": {"x": 1, "y": 1}, "b": {"y": 2}}, {"x": 1, "y": 2}),
        Example("merge(.a, .b)", {"a": {"x": 1}}, {"x": 1}),
    ],
)
def merge(a: Any, b: Any) -> Any:
    if a is MISSING or a is None:
        return a
    _need("merge", a, dict, "an object")
    if b is MISSING or b is None:
        return dict(a)
    _need("merge", b, dict, "an object")
    return {**a, **b}


@register(
    "without",
    args=2,
    category="collections",
    doc="A copy of an object without the given key (a string) or keys (a list).",
    examples=[
        Example('without(.o, ["b", "c"])', {"o": {"a": 1, "b": 2, "c": 3}}, {"a": 1}),
        Example('without(.o, "a")', {"o": {"a": 1, "b": 2}}, {"b": 2}),
    ],
)
def without(obj: Any, drop: Any) -> Any:
    if obj is MISSING or obj is None:
        return obj
    _need("without", obj, dict, "an object")
    _need("without", drop, (str, list), "a key or a list of keys")
    names = {drop} if isinstance(drop, str) else {k for k in drop if isinstance(k, str)}
    return {k: v for k, v in obj.items() if k not in names}


@register(
    "first",
    args=1,
    category="collections",
    doc="The first item of a list; absent if the list is empty.",
    examples=[Example("first(.l)", {"l": ["a", "b"]}, "a"), Example("first(.l)", {"l": []}, MISSING)],
)
def first(items: Any) -> Any:
    if items is MISSING or items is None:
        return items
    _need("first", items, list, "a list")
    return items[0] if items else MISSING


@register(
    "last",
    args=1,
    category="collections",
    doc="The last item of a list; absent if the list is empty.",
    examples=[Example("last(.l)", {"l": ["a", "b"]}, "b"), Example("last(.l)", {"l": []}, MISSING)],
)
def last(items: Any) -> Any:
    if items is MISSING or items is None:
        return items
    _need("last", items, list, "a list")
    return items[-1] if items else MISSING


def _blank(value: Any) -> bool:
    return value is None or value is MISSING or (isinstance(value, str) and value == "")


@register(
    "compact",
    args=1,
    category="collections",
    doc="A copy of a list or object without its null and empty-string values.",
    examples=[
        Example("compact(.l)", {"l": ["a", None, "", 0, False]}, ["a", 0, False]),
        Example("compact(.o)", {"o": {"a": 1, "b": None, "c": ""}}, {"a": 1}),
    ],
)
def compact(x: Any) -> Any:
    if x is MISSING or x is None:
        return x
    _need("compact", x, (list, dict), "a list or an object")
    if isinstance(x, list):
        return [v for v in x if not _blank(v)]
    return {k: v for k, v in x.items() if not _blank(v)}
