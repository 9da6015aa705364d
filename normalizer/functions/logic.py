"""Presence, null handling and branching."""

from __future__ import annotations

from typing import Any

from ..missing import MISSING
from .registry import Example, register


@register(
    "exists",
    args=1,
    accepts_missing=True,
    category="logic",
    doc="True when the value is present (even if it is null), false when the field is absent.",
    examples=[
        Example("exists(.a)", {"a": 1}, True),
        Example("exists(.a)", {"a": None}, True),
        Example("exists(.b)", {"a": 1}, False),
    ],
)
def exists(x: Any) -> bool:
    return x is not MISSING


@register(
    "coalesce",
    args=(1, None),
    accepts_missing=True,
    category="logic",
    doc="The first argument that is neither absent nor null; absent if there is none.",
    examples=[
        Example("coalesce(.a, .b)", {"b": "x"}, "x"),
        Example("coalesce(.a, .b, \"default\")", {"a": None}, "default"),
        Example("coalesce(.a, .b)", {"a": "", "b": "x"}, ""),
        Example("coalesce(.a, .b)", {"b": None}, MISSING),
    ],
)
def coalesce(*values: Any) -> Any:
    for value in values:
        if value is not MISSING and value is not None:
            return value
    return MISSING


@register(
    "is_null",
    args=1,
    category="logic",
    doc="True when the value is JSON null (an absent field stays absent).",
    examples=[
        Example("is_null(.a)", {"a": None}, True),
        Example("is_null(.a)", {"a": ""}, False),
        Example("is_null(.b)", {}, MISSING),
    ],
)
def is_null(x: Any) -> Any:
    if x is MISSING:
        return MISSING
    return x is None


def _type_name(x: Any) -> str:
    if x is MISSING:
        return "missing"
    if x is None:
        return "null"
    if isinstance(x, bool):  # before int: bool is an int subclass
        return "bool"
    if isinstance(x, int):
        return "int"
    if isinstance(x, float):
        return "float"
    if isinstance(x, str):
        return "string"
    if isinstance(x, list):
        return "list"
    if isinstance(x, dict):
        return "object"
    return type(x).__name__


@register(
    "type_of",
    args=1,
    accepts_missing=True,
    category="logic",
    doc='The JSON type of a value: "string", "int", "float", "bool", "null", "list", "object" or "missing".',
    examples=[
        Example("type_of(.a)", {"a": "15"}, "string"),
        Example("type_of(.a)", {"a": 15}, "int"),
        Example("type_of(.a)", {"a": True}, "bool"),
        Example("type_of(.a)", {"a": [1]}, "list"),
        Example("type_of(.a)", {"a": {"k": 1}}, "object"),
        Example("type_of(.a)", {"a": None}, "null"),
        Example("type_of(.a)", {}, "missing"),
    ],
)
def type_of(x: Any) -> str:
    return _type_name(x)


@register(
    "if_else",
    args=3,
    accepts_missing=True,
    category="logic",
    doc="The second argument when the condition is truthy, else the third "
    "(absent, null, false, 0, empty string, list and object are falsy).",
    examples=[
        Example("if_else(.ok, \"yes\", \"no\")", {"ok": True}, "yes"),
        Example("if_else(.ok, \"yes\", \"no\")", {"ok": 0}, "no"),
        Example("if_else(.ok, \"yes\", \"no\")", {"ok": []}, "no"),
        Example("if_else(.ok, \"yes\", \"no\")", {}, "no"),
        Example("if_else(.ok, .a, .b)", {"ok": "x", "b": 2}, MISSING),
    ],
)
def if_else(cond: Any, then: Any, otherwise: Any) -> Any:
    # MISSING is falsy, and Python's truthiness of None/False/0/""/[]/{} is exactly the rule.
    return then if cond else otherwise


@register(
    "when",
    args=2,
    accepts_missing=True,
    category="logic",
    doc="The second argument when the condition is truthy, else nothing (a missing value, so no attribute is written).",
    examples=[
        Example('when(.a != "x", .a)', {"a": "y"}, "y"),
        Example('when(.a != "x", .a)', {"a": "x"}, MISSING),
        Example("when(.ok, 1)", {}, MISSING),
    ],
)
def when(cond: Any, value: Any) -> Any:
    return value if cond else MISSING
