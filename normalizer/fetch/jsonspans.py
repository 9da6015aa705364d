"""Parse a JSON document and keep the exact text of each element of one array in it.

Why: raw output (``normalize: false``) promises each record exactly as the API sent it, and
re-serializing would change number formats, escapes and key spacing.  The standard library's
C scanner (``JSONDecoder.raw_decode``) parses each element and says where it ends, so the
slice between is the element as sent; only line breaks (which JSON allows solely as
whitespace between tokens) are removed so that each record fits on one NDJSON line.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

_DECODER = json.JSONDecoder()
_WS = re.compile(r"[ \t\n\r]*")


@dataclass(frozen=True)
class Element:
    value: Any
    text: str  # as sent, without CR/LF


class Elements(list):
    """The array found along the path: a list of Element."""


class MalformedJSON(ValueError):
    pass


def parse(text: str, path: tuple[str, ...] = ()) -> Any:
    """Parse ``text``; the array at ``path`` (member names from the top) becomes ``Elements``.

    Along the path, an array met before the path ends is taken as the target (so
    ``("d", "results")`` also accepts ``{"d": [...]}``).  Raises MalformedJSON."""
    if text.startswith("\ufeff"):
        text = text[1:]
    try:
        value, end = _value(text, _skip(text, 0), path, True)
    except (ValueError, IndexError) as exc:
        raise MalformedJSON(str(exc)) from None
    end = _skip(text, end)
    if end != len(text):
        raise MalformedJSON(f"extra data at char {end}")
    return value


def find(doc: Any, path: tuple[str, ...]) -> Elements | None:
    node = doc
    for name in path:
        if isinstance(node, Elements):
            return node
        if not isinstance(node, dict):
            return None
        node = node.get(name)
    return node if isinstance(node, Elements) else None


def _skip(text: str, i: int) -> int:
    return _WS.match(text, i).end()


def _value(text: str, i: int, path: tuple[str, ...], on_path: bool) -> tuple[Any, int]:
    if i >= len(text):
        raise MalformedJSON("unexpected end of data")
    ch = text[i]
    if on_path and ch == "[":
        return _array(text, i)
    if on_path and path and ch == "{":
        return _object(text, i, path)
    return _DECODER.raw_decode(text, i)


def _array(text: str, i: int) -> tuple[Elements, int]:
    out = Elements()
    i = _skip(text, i + 1)
    if text[i] == "]":
        return out, i + 1
    while True:
        value, end = _DECODER.raw_decode(text, i)
        raw = text[i:end]
        if "\n" in raw or "\r" in raw:
            raw = raw.replace("\r", "").replace("\n", "")
        out.append(Element(value, raw))
        i = _skip(text, end)
        if text[i] == ",":
            i = _skip(text, i + 1)
            continue
        if text[i] == "]":
            return out, i + 1
        raise MalformedJSON(f"expected ',' or ']' at char {i}")


def _object(text: str, i: int, path: tuple[str, ...]) -> tuple[dict, int]:
    obj: dict = {}
    i = _skip(text, i + 1)
    if text[i] == "}":
        return obj, i + 1
    while True:
        if text[i] != '"':
            raise MalformedJSON(f"expected a member name at char {i}")
        key, i = _DECODER.raw_decode(text, i)
        i = _skip(text, i)
        if text[i] != ":":
            raise MalformedJSON(f"expected ':' at char {i}")
        i = _skip(text, i + 1)
        if key == path[0]:
            value, i = _value(text, i, path[1:], True)
        else:
            value, i = _DECODER.raw_decode(text, i)
        obj[key] = value
        i = _skip(text, i)
        if text[i] == ",":
            i = _skip(text, i + 1)
            continue
        if text[i] == "}":
            return obj, i + 1
        raise MalformedJSON(f"expected ',' or '}}' at char {i}")
