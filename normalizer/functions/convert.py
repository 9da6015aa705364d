"""Type conversions: numbers, booleans, strings and embedded JSON."""

from __future__ import annotations

import json
import math
import re
from decimal import Decimal
from typing import Any

import orjson

from ..diagnostics import RuleRuntimeError
from ..missing import MISSING
from .registry import Example, Raises, register

# A plain decimal number as pipelines write it: "42", "-5", "1000.0", "1e9", ".5".
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_MAX_INT_DIGITS = 4000  # refuse "1e999999" rather than build a million-digit int
_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})
# to_bool's answers for the usual exact texts ("True", "false"...), looked up inline by the
# generated code before calling to_bool.
BOOL_TEXTS = {t: word in _TRUE for word in _TRUE | _FALSE for t in (word, word.upper(), word.title())}
_JSON_SPACE = " \t\r\n\ufeff"


def _cannot(x: Any, what: str) -> RuleRuntimeError:
    return RuleRuntimeError("E201", f"cannot convert {brief(x)} to {what}")


def brief(x: Any, limit: int = 60) -> str:
    """A short repr of a value for warning and error messages."""
    text = repr(x)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _decimal(text: str) -> Decimal | None:
    text = text.strip()
    return Decimal(text) if _NUMBER.fullmatch(text) else None


def _integral_decimal(d: Decimal) -> int | None:
    """The int value of ``d`` when it has no fraction, else None."""
    if d.adjusted() > _MAX_INT_DIGITS or d != d.to_integral_value():
        return None
    return int(d)


def strip_json_text(text: str) -> str:
    """Strip the whitespace and byte-order marks that surround embedded JSON."""
    return text.strip().strip(_JSON_SPACE)


def parse_json_container(text: str) -> Any:
    """Parse ``text`` when it holds a JSON object or array; MISSING otherwise."""
    text = strip_json_text(text)
    if not text or text[0] not in "[{":
        return MISSING
    try:
        return orjson.loads(text)
    except ValueError:
        return MISSING


def dumps_compact(value: Any) -> str:
    """Compact JSON text (no spaces, UTF-8 kept as is)."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # e.g. ints beyond 64 bits, which orjson refuses
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


_INT_MIN, _INT_MAX = -(2**63), 2**64 - 1  # what JSON consumers (and orjson) accept as integers


def _in_range(n: int) -> bool:
    return _INT_MIN <= n <= _INT_MAX


@register(
    "to_int",
    args=1,
    category="convert",
    doc="Convert a number or numeric string without a fraction to an int.",
    examples=[
        Example("to_int(.a)", {"a": "15"}, 15),
        Example("to_int(.a)", {"a": " 42 "}, 42),
        Example("to_int(.a)", {"a": "1000.0"}, 1000),
        Example("to_int(.a)", {"a": "1e3"}, 1000),
        Example("to_int(.a)", {"a": 7.0}, 7),
        Example("to_int(.a)", {"a": "1.5"}, Raises("E201")),
        Example("to_int(.a)", {"a": True}, Raises("E201")),
        Example("to_int(.a)", {"a": 1.8446744073709552e19}, Raises("E201")),
    ],
)
def to_int(x: Any) -> Any:
    if x.__class__ is int:  # the usual case first (a bool is not of class int)
        return x
    if x is MISSING or x is None:
        return x
    if isinstance(x, bool):
        raise _cannot(x, "an int")
    if isinstance(x, int):
        return x
    value = None
    if isinstance(x, float):
        if math.isfinite(x) and x.is_integer():
            value = int(x)
    elif isinstance(x, str):
        if len(x) < 20 and x.isdigit() and x.isascii():  # plain ASCII digits: what Decimal would give
            value = int(x)
        else:
            d = _decimal(x)
            value = None if d is None else _integral_decimal(d)
    if value is not None and _in_range(value):
        return value
    raise _cannot(x, "a 64-bit int")


@register(
    "to_float",
    args=1,
    category="convert",
    doc="Convert a number or numeric string to a float.",
    examples=[
        Example("to_float(.a)", {"a": "1.5"}, 1.5),
        Example("to_float(.a)", {"a": 2}, 2.0),
        Example("to_float(.a)", {"a": "1e9"}, 1e9),
        Example("to_float(.a)", {"a": "abc"}, Raises("E201")),
    ],
)
def to_float(x: Any) -> Any:
    if x is MISSING or x is None:
        return x
    if isinstance(x, bool):
        raise _cannot(x, "a float")
    value: float | None = None
    if isinstance(x, int):
        try:
            value = float(x)
        except OverflowError:
            value = None
    elif isinstance(x, float):
        value = x
    elif isinstance(x, str):
        d = _decimal(x)
        value = None if d is None else float(d)
    if value is None or not math.isfinite(value):
        raise _cannot(x, "a float")
    return value


@register(
    "to_number",
    args=1,
    category="convert",
    doc="Convert to a number: an int when the value has no fraction, else a float.",
    examples=[
        Example("to_number(.a)", {"a": "1000.0"}, 1000),
        Example("to_number(.a)", {"a": "1e9"}, 1000000000),
        Example("to_number(.a)", {"a": "2.5"}, 2.5),
        Example("to_number(.a)", {"a": 3.0}, 3),
        Example("to_number(.a)", {"a": "n/a"}, Raises("E201")),
    ],
)
def to_number(x: Any) -> Any:
    if x is MISSING or x is None:
        return x
    if isinstance(x, bool):
        raise _cannot(x, "a number")
    if isinstance(x, int):
        return x
    if isinstance(x, float):
        if not math.isfinite(x):
            raise _cannot(x, "a number")
        return int(x) if x.is_integer() and _in_range(int(x)) else x
    if isinstance(x, str):
        d = _decimal(x)
        if d is not None:
            whole = _integral_decimal(d)
            if whole is not None and _in_range(whole):
                return whole
            value = float(d)
            if math.isfinite(value):
                return value
    raise _cannot(x, "a number")


@register(
    "to_bool",
    args=1,
    category="convert",
    doc='Convert "true"/"false" (any case), "yes"/"no", "1"/"0", 1/0 or a bool to a bool.',
    examples=[
        Example("to_bool(.a)", {"a": "True"}, True),
        Example("to_bool(.a)", {"a": "false"}, False),
        Example("to_bool(.a)", {"a": "1"}, True),
        Example("to_bool(.a)", {"a": 0}, False),
        Example("to_bool(.a)", {"a": "maybe"}, Raises("E201")),
    ],
)
def to_bool(x: Any) -> Any:
    if x.__class__ is bool:
        return x
    if x is MISSING or x is None:
        return x
    if isinstance(x, bool):
        return x
    if isinstance(x, int) and x in (0, 1):
        return x == 1
    if isinstance(x, str):
        word = x.strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
    raise _cannot(x, "a bool")


@register(
    "to_string",
    args=1,
    category="convert",
    doc="Convert a scalar to its string form (Python str()); lists and objects become compact JSON.",
    examples=[
        Example("to_string(.a)", {"a": 15}, "15"),
        Example("to_string(.a)", {"a": "x"}, "x"),
        Example("to_string(.a)", {"a": True}, "True"),
        Example("to_string(.a)", {"a": [1, "b"]}, '[1,"b"]'),
        Example("to_string(.a)", {"a": {"k": None}}, '{"k":null}'),
    ],
)
def to_string(x: Any) -> Any:
    if x is MISSING or x is None:
        return x
    if isinstance(x, str):
        return x
    if isinstance(x, (list, dict)):
        return dumps_compact(x)
    return str(x)


@register(
    "parse_json",
    args=1,
    takes_context=True,
    category="convert",
    doc="Parse a string holding JSON (warns W303 and gives absent if it is not JSON); "
    "other values pass through.",
    examples=[
        Example("parse_json(.a)", {"a": '{"UserType":"Member"}'}, {"UserType": "Member"}),
        Example("parse_json(.a)", {"a": ' [1, 2] '}, [1, 2]),
        Example("parse_json(.a)", {"a": "42"}, 42),
        Example("parse_json(.a)", {"a": '{"k":1,"k":2}'}, {"k": 2}),
        Example("parse_json(.a)", {"a": [1]}, [1]),
        Example("parse_json(.a)", {"a": "{not json"}, MISSING, warnings=("W303",)),
        Example("parse_json(.a)", {"a": ""}, MISSING),
    ],
)
def parse_json(ctx: Any, x: Any) -> Any:
    if not isinstance(x, str):
        return x
    text = strip_json_text(x)
    if not text:  # an empty field holds no JSON: absent, nothing worth a warning
        return MISSING
    try:
        return orjson.loads(text)
    except ValueError as exc:
        ctx.warn("W303", f"parse_json: not valid JSON ({exc}): {brief(text)}")
        return MISSING


@register(
    "try_json",
    args=1,
    category="convert",
    doc="Parse a string that holds a JSON object or array; any other value is returned unchanged.",
    examples=[
        Example("try_json(.a)", {"a": '[{"Default":true,"MethodType":7}]'}, [{"Default": True, "MethodType": 7}]),
        Example("try_json(.a)", {"a": "Member"}, "Member"),
        Example("try_json(.a)", {"a": "42"}, "42"),
        Example("try_json(.a)", {"a": "{broken"}, "{broken"),
    ],
)
def try_json(x: Any) -> Any:
    if not isinstance(x, str):
        return x
    parsed = parse_json_container(x)
    return x if parsed is MISSING else parsed
