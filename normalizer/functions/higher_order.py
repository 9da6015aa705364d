"""Functions the compiler treats specially: per-element expressions and enum lookups.

``map``/``filter``/``any``/``all`` evaluate their second argument once per list
element, with ``.`` bound to the element (``$`` still reads the record). The enum
functions name a table that is resolved when the rules are compiled, so a misspelt
table is a load-time error, never a per-record surprise.
"""

from __future__ import annotations

from ..missing import MISSING
from .registry import Example, register


def _elements(value):
    if value is MISSING or value is None:
        return None
    if value.__class__ is list:
        return value
    return None


@register(
    "map",
    args=2,
    lambda_args=(1,),
    category="lists",
    doc="Evaluate the second argument for each element of a list (`.` is the element); missing results are dropped.",
    examples=[
        Example('map(.Actor, .ID)', {"Actor": [{"ID": "a"}, {"ID": "b"}, {}]}, ["a", "b"]),
        Example('map(.xs, {"v": ., "root": $.k})', {"xs": [1, 2], "k": "K"}, [{"v": 1, "root": "K"}, {"v": 2, "root": "K"}]),
        Example('map(.missing, .ID)', {}, MISSING),
    ],
)
def map_(value, fn):
    items = _elements(value)
    if items is None:
        return value
    out = []
    for item in items:
        result = fn(item)
        if result is not MISSING:
            out.append(result)
    return out


@register(
    "filter",
    args=2,
    lambda_args=(1,),
    category="lists",
    doc="Keep the list elements for which the second argument is true (`.` is the element).",
    examples=[
        Example('filter(.xs, . > 1)', {"xs": [1, 2, 3]}, [2, 3]),
        Example('filter(.Actor, .Type == 5)', {"Actor": [{"Type": 0}, {"Type": 5, "ID": "u"}]}, [{"Type": 5, "ID": "u"}]),
    ],
)
def filter_(value, fn):
    items = _elements(value)
    if items is None:
        return value
    return [item for item in items if fn(item)]


@register(
    "any",
    args=2,
    lambda_args=(1,),
    category="lists",
    accepts_missing=True,
    doc="True when the second argument is true for at least one list element.",
    examples=[
        Example('any(.xs, . == "b")', {"xs": ["a", "b"]}, True),
        Example('any(.xs, . == "z")', {"xs": ["a", "b"]}, False),
        Example('any(.nope, . == "z")', {}, False),
    ],
)
def any_(value, fn):
    items = _elements(value)
    return bool(items) and any(fn(item) for item in items)


@register(
    "all",
    args=2,
    lambda_args=(1,),
    category="lists",
    accepts_missing=True,
    doc="True when the second argument is true for every list element (false for a missing list).",
    examples=[
        Example('all(.xs, . > 0)', {"xs": [1, 2]}, True),
        Example('all(.xs, . > 1)', {"xs": [1, 2]}, False),
    ],
)
def all_(value, fn):
    items = _elements(value)
    return items is not None and all(fn(item) for item in items)


@register(
    "enum_name",
    args=2,
    enum_arg=0,
    takes_context=True,
    category="enums",
    doc="Decode a code (int, numeric string or known name) to its name with an enum table; unknown codes follow the table's on_unknown policy.",
    examples=[
        Example('enum_name("RecordType", .RecordType)', {"RecordType": 15}, "AzureActiveDirectoryStsLogon"),
        Example('enum_name("RecordType", .RecordType)', {"RecordType": "15"}, "AzureActiveDirectoryStsLogon"),
        Example('enum_name("RecordType", .RecordType)', {"RecordType": 99999}, MISSING, warnings=("W300",)),
        Example('enum_name("RecordType", .RecordType)', {}, MISSING),
    ],
)
def enum_name(ctx, table, value):
    return table.decode_name(ctx, value)


@register(
    "enum_code",
    args=2,
    enum_arg=0,
    takes_context=True,
    category="enums",
    doc="The numeric code for a value that may arrive as an int, a numeric string or a name; missing when it is none of these (an unknown name).",
    examples=[
        Example('enum_code("RecordType", .RecordType)', {"RecordType": "15"}, 15),
        Example('enum_code("RecordType", .RecordType)', {"RecordType": "AzureActiveDirectoryStsLogon"}, 15),
        Example('enum_code("RecordType", .RecordType)', {"RecordType": 99999}, 99999),
        Example('enum_code("RecordType", .RecordType)', {"RecordType": "NoSuchType"}, MISSING),
        Example('enum_code("RecordType", .RecordType)', {"RecordType": [15]}, MISSING),
    ],
)
def enum_code(ctx, table, value):
    return table.decode_code(ctx, value)
