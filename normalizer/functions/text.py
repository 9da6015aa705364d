"""String functions and regular expressions.

Every function passes an absent first argument through as absent and null as null;
a value of the wrong type (a number where a string is expected, say) is E202.
"""

from __future__ import annotations

import re
from typing import Any

from ..diagnostics import RuleRuntimeError
from ..missing import MISSING
from .convert import brief, dumps_compact
from .registry import Example, Raises, register

_ABSENT = (MISSING, None)


def _wrong_type(fn: str, what: str, value: Any) -> RuleRuntimeError:
    return RuleRuntimeError("E202", f"{fn}: {what} must be a string, got {brief(value)}")


def _need_str(fn: str, what: str, value: Any) -> str:
    if not isinstance(value, str):
        raise _wrong_type(fn, what, value)
    return value


def compile_pattern(index: int, value: Any) -> re.Pattern:
    """Compile a literal regex argument when the rule is compiled; ValueError if invalid."""
    if not isinstance(value, str):
        raise ValueError(f"argument {index + 1} must be a string regular expression")
    try:
        return re.compile(value)
    except re.error as exc:
        raise ValueError(f"invalid regular expression {value!r}: {exc}") from None


def _pattern(fn: str, value: Any) -> re.Pattern:
    """The pre-compiled pattern (a plain string is compiled too, for direct calls)."""
    if isinstance(value, re.Pattern):
        return value
    try:
        return compile_pattern(1, value)
    except ValueError as exc:
        raise RuleRuntimeError("E202", f"{fn}: {exc}") from None


def _simple(name: str, doc: str, examples: list[Example], op: Any) -> None:
    """Register a one-argument string -> string function."""

    def impl(x: Any) -> Any:
        if x in _ABSENT:
            return x
        return op(_need_str(name, "the value", x))

    impl.__name__ = name
    register(name, args=1, category="text", doc=doc, examples=examples)(impl)


_simple(
    "lower",
    "Lower-case a string.",
    [Example("lower(.a)", {"a": "SharePoint"}, "sharepoint"), Example("lower(.a)", {"a": 5}, Raises("E202"))],
    str.lower,
)
_simple(
    "upper",
    "Upper-case a string.",
    [Example("upper(.a)", {"a": "delivered"}, "DELIVERED"), Example("upper(.a)", {"a": None}, None)],
    str.upper,
)
_simple(
    "trim",
    "Strip leading and trailing whitespace.",
    [Example("trim(.a)", {"a": "  x y \n"}, "x y"), Example("trim(.b)", {}, MISSING)],
    str.strip,
)


@register(
    "split",
    args=(2, 3),
    category="text",
    doc="Split a string on a separator, at most maxsplit times when given.",
    examples=[
        Example('split(.a, ",")', {"a": "a,b,c"}, ["a", "b", "c"]),
        Example('split(.a, ":", 1)', {"a": "OAuth2:Authorize:x"}, ["OAuth2", "Authorize:x"]),
        Example('split(.a, ",")', {"a": ""}, [""]),
    ],
)
def split(x: Any, sep: Any, maxsplit: Any = -1) -> Any:
    if x in _ABSENT:
        return x
    text = _need_str("split", "the value", x)
    if not isinstance(sep, str) or not sep:
        raise RuleRuntimeError("E202", f"split: the separator must be a non-empty string, got {brief(sep)}")
    if isinstance(maxsplit, bool) or not isinstance(maxsplit, int):
        raise RuleRuntimeError("E202", f"split: maxsplit must be an int, got {brief(maxsplit)}")
    return text.split(sep, maxsplit)


def _join_item(item: Any) -> str:
    if isinstance(item, str):
        return item
    if isinstance(item, (list, dict)):
        return dumps_compact(item)
    return str(item)


@register(
    "join",
    args=2,
    category="text",
    doc="Join the items of a list with a separator (nulls skipped, other scalars stringified).",
    examples=[
        Example('join(.a, ", ")', {"a": ["x", "y"]}, "x, y"),
        Example('join(.a, "-")', {"a": ["x", None, 3]}, "x-3"),
        Example('join(.a, ",")', {"a": "x"}, Raises("E202")),
    ],
)
def join(items: Any, sep: Any) -> Any:
    if items in _ABSENT:
        return items
    if not isinstance(items, list):
        raise RuleRuntimeError("E202", f"join: the value must be a list, got {brief(items)}")
    sep = _need_str("join", "the separator", sep)
    return sep.join(_join_item(item) for item in items if item is not None and item is not MISSING)


@register(
    "replace",
    args=3,
    category="text",
    doc="Replace every occurrence of a substring.",
    examples=[
        Example('replace(.a, ".", "_")', {"a": "TargetId.UserType"}, "TargetId_UserType"),
        Example('replace(.a, "x", "y")', {"a": "abc"}, "abc"),
    ],
)
def replace(x: Any, old: Any, new: Any) -> Any:
    if x in _ABSENT:
        return x
    text = _need_str("replace", "the value", x)
    return text.replace(_need_str("replace", "the old text", old), _need_str("replace", "the new text", new))


@register(
    "starts_with",
    args=2,
    category="text",
    doc="True when the string starts with the prefix.",
    examples=[
        Example('starts_with(.a, "OAuth2:")', {"a": "OAuth2:Authorize"}, True),
        Example('starts_with(.a, "Login:")', {"a": "OAuth2:Authorize"}, False),
    ],
)
def starts_with(x: Any, prefix: Any) -> Any:
    if x in _ABSENT:
        return x
    return _need_str("starts_with", "the value", x).startswith(_need_str("starts_with", "the prefix", prefix))


@register(
    "ends_with",
    args=2,
    category="text",
    doc="True when the string ends with the suffix.",
    examples=[
        Example('ends_with(.a, "@contoso.com")', {"a": "bob@contoso.com"}, True),
        Example('ends_with(.a, ".pdf")', {"a": "a.docx"}, False),
    ],
)
def ends_with(x: Any, suffix: Any) -> Any:
    if x in _ABSENT:
        return x
    return _need_str("ends_with", "the value", x).endswith(_need_str("ends_with", "the suffix", suffix))


def _same(a: Any, b: Any) -> bool:
    """JSON equality: true is not 1, and false is not 0."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    return a == b


@register(
    "contains",
    args=2,
    category="text",
    doc="Substring test for a string, membership for a list, key test for an object.",
    examples=[
        Example('contains(.a, "Admin")', {"a": "Exchange Admin"}, True),
        Example('contains(.a, "b")', {"a": ["a", "b"]}, True),
        Example("contains(.a, 1)", {"a": [True]}, False),
        Example('contains(.a, "k")', {"a": {"k": None}}, True),
    ],
)
def contains(x: Any, needle: Any) -> Any:
    if x in _ABSENT:
        return x
    if isinstance(x, str):
        return _need_str("contains", "the needle", needle) in x
    if isinstance(x, list):
        return any(_same(item, needle) for item in x)
    if isinstance(x, dict):
        return _need_str("contains", "the key", needle) in x
    raise RuleRuntimeError("E202", f"contains: the value must be a string, list or object, got {brief(x)}")


@register(
    "length",
    args=1,
    category="text",
    doc="The number of characters in a string, items in a list or keys in an object.",
    examples=[
        Example("length(.a)", {"a": "abc"}, 3),
        Example("length(.a)", {"a": [1, 2]}, 2),
        Example("length(.a)", {"a": {}}, 0),
        Example("length(.a)", {"a": 12}, Raises("E202")),
    ],
)
def length(x: Any) -> Any:
    if x in _ABSENT:
        return x
    if isinstance(x, (str, list, dict)):
        return len(x)
    raise RuleRuntimeError("E202", f"length: the value must be a string, list or object, got {brief(x)}")


@register(
    "regex_match",
    args=2,
    literal_args=(1,),
    compile_literal=compile_pattern,
    literal_error_code="E108",
    category="text",
    doc="True when the regular expression matches anywhere in the string.",
    examples=[
        Example('regex_match(.a, "^[0-9]+$")', {"a": "50140"}, True),
        Example('regex_match(.a, "^[0-9]+$")', {"a": "n/a"}, False),
    ],
)
def regex_match(x: Any, pattern: Any) -> Any:
    if x in _ABSENT:
        return x
    return _pattern("regex_match", pattern).search(_need_str("regex_match", "the value", x)) is not None


@register(
    "regex_extract",
    args=(2, 3),
    literal_args=(1,),
    compile_literal=compile_pattern,
    literal_error_code="E108",
    category="text",
    doc="The text of a group (default: group 1 if the pattern has groups, else the whole match); "
    "absent when nothing matches.",
    examples=[
        Example('regex_extract(.a, "PP_E_[A-Z_]+")', {"a": "-2147217390;PP_E_BAD_PASSWORD;x"}, "PP_E_BAD_PASSWORD"),
        Example('regex_extract(.a, "^([^;]+);")', {"a": "-2147217390;PP_E_BAD_PASSWORD;x"}, "-2147217390"),
        Example('regex_extract(.a, "(?P<user>[^@]+)@(?P<dom>.+)", "dom")', {"a": "bob@contoso.com"}, "contoso.com"),
        Example('regex_extract(.a, "([0-9]+)", 0)', {"a": "id 42"}, "42"),
        Example('regex_extract(.a, "([0-9]+)")', {"a": "none"}, MISSING),
    ],
)
def regex_extract(x: Any, pattern: Any, group: Any = None) -> Any:
    if x in _ABSENT:
        return x
    compiled = _pattern("regex_extract", pattern)
    if group is None:
        group = 1 if compiled.groups else 0
    elif isinstance(group, bool) or not isinstance(group, (int, str)):
        raise RuleRuntimeError("E202", f"regex_extract: the group must be an int or a name, got {brief(group)}")
    match = compiled.search(_need_str("regex_extract", "the value", x))
    if match is None:
        return MISSING
    try:
        text = match.group(group)
    except IndexError:
        raise RuleRuntimeError("E200", f"regex_extract: the pattern has no group {group!r}") from None
    return MISSING if text is None else text  # None: the group did not take part in the match


@register(
    "regex_replace",
    args=3,
    literal_args=(1,),
    compile_literal=compile_pattern,
    literal_error_code="E108",
    category="text",
    doc=r"Replace every match of the regular expression (the replacement may use \1 or \g<name>).",
    examples=[
        Example('regex_replace(.a, "[0-9]", "#")', {"a": "a1b22"}, "a#b##"),
        Example('regex_replace(.a, " +", " ")', {"a": "a   b"}, "a b"),
    ],
)
def regex_replace(x: Any, pattern: Any, repl: Any) -> Any:
    if x in _ABSENT:
        return x
    text = _need_str("regex_replace", "the value", x)
    repl = _need_str("regex_replace", "the replacement", repl)
    try:
        return _pattern("regex_replace", pattern).sub(repl, text)
    except (re.error, IndexError) as exc:
        raise RuleRuntimeError("E200", f"regex_replace: bad replacement {repl!r}: {exc}") from None
