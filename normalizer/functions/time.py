"""Timestamps: every input shape Microsoft 365 produces becomes ISO 8601 UTC ending in Z.

Fractions of a second are carried as digit strings, never through float, so the
seven digits .NET writes come out exactly as they went in.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta
from functools import lru_cache
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from ..diagnostics import RuleRuntimeError
from ..missing import MISSING
from .convert import brief
from .registry import Example, Raises, register

_EPOCH = datetime(1970, 1, 1)
_MS_THRESHOLD = 10**11  # epoch numbers at or above this many units are milliseconds
_MAX_FRACTION = 9

# OData v2 / Microsoft JSON: /Date(ms)/, \/Date(ms)\/, /Date(ms+0000)/. The offset is informational.
_ODATA = re.compile(r"\\?/Date\((-?[0-9]+)(?:[+-][0-9]{4})?\)\\?/")
_ISO = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})"
    r"(?:[T ]([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:[.,]([0-9]{1,9}))?)?)?"
    r"\s*(Z|[+-][0-9]{2}:?[0-9]{2})?",
    re.IGNORECASE,
)
_NAIVE_SECONDS = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}")
# PowerShell / en-US exports: 2/10/2020 3:13:13 PM (month first).
_US = re.compile(
    r"([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})"
    r"(?:\s+([0-9]{1,2}):([0-9]{2})(?::([0-9]{2}))?(?:\s*([AP]M))?)?",
    re.IGNORECASE,
)


def _bad(x: Any) -> RuleRuntimeError:
    return RuleRuntimeError("E201", f"cannot read {brief(x)} as a timestamp")


def _format(dt: datetime, fraction: str = "") -> str:
    """``YYYY-MM-DDTHH:MM:SS[.fraction]Z`` for a naive UTC datetime.

    Formatted by hand: strftime does not zero-pad years before 1000 on every platform.
    """
    text = (
        f"{dt.year:04d}-{dt.month:02d}-{dt.day:02d}"
        f"T{dt.hour:02d}:{dt.minute:02d}:{dt.second:02d}"
    )
    return f"{text}.{fraction}Z" if fraction else f"{text}Z"


def _from_millis(ms: int) -> str:
    seconds, millis = divmod(ms, 1000)  # floor division keeps negative values right
    return _format(_EPOCH + timedelta(seconds=seconds), f"{millis:03d}")


def _offset(text: str | None) -> timedelta:
    if text is None or text.upper() == "Z":
        return timedelta(0)
    digits = text[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:])
    if hours > 23 or minutes > 59:
        raise ValueError(f"bad UTC offset {text}")
    delta = timedelta(hours=hours, minutes=minutes)
    return -delta if text[0] == "-" else delta


def _from_iso(m: re.Match) -> str:
    year, month, day, hour, minute, second, fraction, offset = m.groups()
    dt = datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0))
    return _format(dt - _offset(offset), fraction or "")


def _from_us(m: re.Match) -> str:
    month, day, year, hour, minute, second, meridiem = m.groups()
    h = int(hour or 0)
    if meridiem:
        if not 1 <= h <= 12:
            raise ValueError(f"hour {h} with {meridiem}")
        h = h % 12 + (12 if meridiem.upper() == "PM" else 0)
    return _format(datetime(int(year), int(month), int(day), h, int(minute or 0), int(second or 0)))


@lru_cache(maxsize=16384)  # a busy tenant writes many records per second: the same text repeats
def _from_string(x: str) -> str:
    text = x.strip()
    m = _ODATA.fullmatch(text)
    if m:
        return _from_millis(int(m.group(1)))
    m = _ISO.fullmatch(text)
    if m:
        return _from_iso(m)
    m = _US.fullmatch(text)
    if m:
        return _from_us(m)
    raise _bad(x)


def _from_number(x: int | float) -> str:
    if isinstance(x, float) and not math.isfinite(x):
        raise _bad(x)
    exact = Decimal(x) if isinstance(x, int) else Decimal(repr(x))  # repr: the digits as written
    if abs(exact) >= _MS_THRESHOLD:
        return _from_millis(int(exact.to_integral_value(rounding=ROUND_FLOOR)))
    whole = int(exact.to_integral_value(rounding=ROUND_FLOOR))
    part = exact - whole
    fraction = "" if part == 0 else format(part, "f").split(".")[1][:_MAX_FRACTION]
    return _format(_EPOCH + timedelta(seconds=whole), fraction)


@register(
    "to_timestamp",
    args=1,
    category="time",
    doc="Convert an ISO 8601, /Date(ms)/, US-style or epoch timestamp to ISO 8601 UTC "
    "(YYYY-MM-DDTHH:MM:SS[.fraction]Z; the input's fraction digits are kept).",
    examples=[
        Example("to_timestamp(.t)", {"t": "2020-02-10T15:13:13"}, "2020-02-10T15:13:13Z"),
        Example("to_timestamp(.t)", {"t": "2020-02-10T15:13:13.1234567"}, "2020-02-10T15:13:13.1234567Z"),
        Example("to_timestamp(.t)", {"t": "2020-02-10T15:13:13.50+02:00"}, "2020-02-10T13:13:13.50Z"),
        Example("to_timestamp(.t)", {"t": "2020-02-10 10:13:13-0500"}, "2020-02-10T15:13:13Z"),
        Example("to_timestamp(.t)", {"t": "2025-06-13T10:30:00Z"}, "2025-06-13T10:30:00Z"),
        Example("to_timestamp(.t)", {"t": "2020-02-10"}, "2020-02-10T00:00:00Z"),
        Example("to_timestamp(.t)", {"t": "/Date(1658751973240)/"}, "2022-07-25T12:26:13.240Z"),
        Example("to_timestamp(.t)", {"t": "\\/Date(1658751973240)\\/"}, "2022-07-25T12:26:13.240Z"),
        Example("to_timestamp(.t)", {"t": "/Date(1658751973240-0500)/"}, "2022-07-25T12:26:13.240Z"),
        Example("to_timestamp(.t)", {"t": 1581347593}, "2020-02-10T15:13:13Z"),
        Example("to_timestamp(.t)", {"t": 1581347593000}, "2020-02-10T15:13:13.000Z"),
        Example("to_timestamp(.t)", {"t": "2/10/2020 3:13:13 PM"}, "2020-02-10T15:13:13Z"),
        Example("to_timestamp(.t)", {"t": "yesterday"}, Raises("E201")),
        Example("to_timestamp(.t)", {"t": "2020-02-30T00:00:00"}, Raises("E201")),
        Example("to_timestamp(.t)", {"t": "2020-02-10T15:13+01"}, Raises("E201")),
    ],
)
def to_timestamp(x: Any) -> Any:
    if x is MISSING or x is None:
        return x
    try:
        if isinstance(x, str):
            if len(x) == 19 and _NAIVE_SECONDS.fullmatch(x):  # CreationTime's own shape: naive UTC, seconds
                datetime.fromisoformat(x)  # validates the date (in C); the text is already canonical
                return x + "Z"
            return _from_string(x)
        if isinstance(x, (int, float)) and not isinstance(x, bool):
            return _from_number(x)
    except (ValueError, OverflowError, ArithmeticError):
        raise _bad(x) from None
    raise _bad(x)
