"""Helpers the generated rule code calls per record, and output flattening.

Generated code inlines the common cases (a field read, a single-level write); these
helpers cover the rest. They never raise on odd data: a missing or mistyped value
reads as MISSING, and comparisons between incomparable values are simply false.
"""

from __future__ import annotations

from typing import Any

from .diagnostics import RuleRuntimeError
from .functions.higher_order import map_
from .missing import MISSING

M = MISSING


def get_key(obj: Any, key: str) -> Any:
    """``obj[key]`` for an object, else MISSING."""
    if obj.__class__ is dict:
        return obj.get(key, M)
    return M


def get_index(obj: Any, index: Any) -> Any:
    """``obj[index]`` for a list (negative counts from the end) or an object key, else MISSING."""
    cls = obj.__class__
    if cls is list and index.__class__ is int:
        try:
            return obj[index]
        except IndexError:
            return M
    if cls is dict and index.__class__ is str:
        return obj.get(index, M)
    return M


def is_in(value: Any, container: Any) -> bool:
    if value is M or container is M or container is None:
        return False
    try:
        return value in container
    except TypeError:
        return False


def less(a: Any, b: Any) -> bool:
    try:
        return a is not M and b is not M and a is not None and b is not None and a < b
    except TypeError:
        return False


def less_eq(a: Any, b: Any) -> bool:
    try:
        return a is not M and b is not M and a is not None and b is not None and a <= b
    except TypeError:
        return False


# type_of() for the exact classes JSON values have (anything else goes through type_of itself)
TYPE_NAMES = {dict: "object", list: "list", str: "string", int: "int", float: "float", bool: "bool",
              type(None): "null", type(M): "missing"}


def map_merge(value: Any, keys: tuple, values: Any, general: Any) -> Any:
    """``map(value, if_else(type_of(.) == "object", merge(., OBJ), .))`` where OBJ is an object
    literal with ``keys`` and ``values(element)`` its values in order; ``general`` is the
    whole per-element expression, for elements that are not plain objects."""
    if value.__class__ is not list:
        return map_(value, general)
    out = []
    for item in value:
        if item.__class__ is dict:
            merged = dict(item)
            for key, member in zip(keys, values(item)):
                if member is not M:
                    merged[key] = member
            out.append(merged)
        else:
            result = general(item)
            if result is not M:
                out.append(result)
    return out


def make_object(keys: tuple, values: tuple) -> dict:
    """An object literal; members whose value is MISSING are left out."""
    return {k: v for k, v in zip(keys, values) if v is not M}


def make_list(values: tuple) -> list:
    return [v for v in values if v is not M]


def put(container: dict, path: tuple, value: Any, owned: set) -> None:
    """Write ``value`` at ``path`` below ``container``, creating objects on the way.

    A nested object the rules did not create (for example one read from the record)
    is copied before it is written into, so rules never modify the input record.
    """
    node = container
    for key in path[:-1]:
        child = node.get(key)
        if child.__class__ is not dict:
            child = {}
            node[key] = child
            owned.add(id(child))
        elif id(child) not in owned:
            child = dict(child)
            node[key] = child
            owned.add(id(child))
        node = child
    node[path[-1]] = value


def fill(target: dict, record: dict, consumed: Any = None) -> None:
    """The passthrough: copy every raw field no rule wrote or consumed; rules win, and
    an object a rule wrote into receives the raw members it does not have yet."""
    for key, value in record.items():
        if consumed and key in consumed:
            continue
        present = target.get(key, M)
        if present is M:
            target[key] = value
        elif present.__class__ is dict and value.__class__ is dict and present is not value:
            fill(present, value)


def keep_raw(out: dict, record: dict, roots: tuple) -> None:
    """A ``move`` could not produce its value: keep the raw fields under ``normalizer.raw``."""
    for key in roots:
        value = record.get(key, M)
        if value is not M:
            engine = out.get("normalizer")
            if engine is None:
                engine = out["normalizer"] = {}
            raw = engine.get("raw")
            if raw is None:
                raw = engine["raw"] = {}
            raw[key] = value


def attach(out: dict, path: tuple, node: dict) -> None:
    """Hang the stream's passthrough object at its prefix (merging with rule writes there);
    an empty one is left out, as flat output has nothing to show for it."""
    if not node:
        return
    parent = out
    for key in path[:-1]:
        child = parent.get(key)
        if child.__class__ is not dict:
            child = {}
            parent[key] = child
        parent = child
    existing = parent.get(path[-1])
    if existing.__class__ is dict and existing:
        existing.update(node)
    else:
        parent[path[-1]] = node


def fail(ctx: Any, site: Any, target: str | None, exc: BaseException) -> None:
    """Record a rule that failed on this record; the record and the other rules go on."""
    if isinstance(exc, RuleRuntimeError):
        code, message = exc.code, exc.message
    else:
        code, message = "E200", f"{type(exc).__name__}: {exc}"
    ctx.site = site
    ctx.warn(code, message, target)


# -- flat mode: the same semantics, written straight into flat dotted keys ---------------
def fput(out: dict, key: str, value: Any) -> None:
    """Flat ``out[key] = value``: a non-empty object becomes one key per leaf."""
    if value.__class__ is dict and value:
        _fput_members(out, key + ".", value)
    else:
        out[key] = value


def _fput_members(out: dict, prefix: str, obj: dict) -> None:
    for key, value in obj.items():
        if value.__class__ is dict and value:
            _fput_members(out, prefix + key + ".", value)
        else:
            out[prefix + key] = value


def fclear(out: dict, key: str) -> None:
    """Remove ``key`` and everything below it (a nested write replaces the whole object)."""
    out.pop(key, None)
    below = key + "."
    for name in [name for name in out if name.startswith(below)]:
        del out[name]


def ffill(out: dict, prefix: str, record: dict, consumed: Any, touched: set) -> None:
    """The passthrough in flat mode; ``touched`` holds the keys rules wrote objects below."""
    for key, value in record.items():
        if consumed and key in consumed:
            continue
        name = prefix + key
        if value.__class__ is dict or name in out or name in touched:
            _ffill_one(out, name, value, touched)
        else:  # the common case, inline: a raw value no rule touched
            out[name] = value


def fpass(out: dict, name: str, value: Any, touched: set) -> None:
    """ffill's step for one raw field (flat name ``name``) that is not consumed."""
    if value.__class__ is dict or name in out or name in touched:
        _ffill_one(out, name, value, touched)
    else:
        out[name] = value


def fflat(out: dict, key: str, value: dict) -> None:
    """``_ffill_one(out, key, value, ())`` for an object when no rule writes at or below ``key``."""
    if not value:
        out[key] = value
        return
    prefix = key + "."
    for name, member in value.items():
        name = prefix + name
        if member.__class__ is dict or name in out:
            _ffill_one(out, name, member, ())
        else:
            out[name] = member


def _ffill_one(out: dict, key: str, value: Any, touched: set) -> None:
    present = out.get(key, M)
    if present is not M:
        if not (present.__class__ is dict and not present and value.__class__ is dict):
            return  # a rule wrote here: rules win
        del out[key]  # a rule wrote an empty object: the raw members fill it
    if value.__class__ is dict and value:
        prefix = key + "."
        for name, member in value.items():
            _ffill_one(out, prefix + name, member, touched)
    elif key not in touched:
        out[key] = value


def fkeep_raw(out: dict, record: dict, roots: tuple) -> None:
    """Flat ``keep_raw``: ``normalizer.raw.<Field>`` keys."""
    for key in roots:
        value = record.get(key, M)
        if value is not M:
            fput(out, "normalizer.raw." + key, value)


def flatten(tree: dict) -> dict:
    """Nested output to flat dotted keys. Lists and empty objects are kept as values."""
    flat: dict = {}
    _flatten_into(flat, "", tree)
    return flat


def _flatten_into(flat: dict, prefix: str, node: dict) -> None:
    for key, value in node.items():
        name = prefix + key
        if value.__class__ is dict and value:
            _flatten_into(flat, name + ".", value)
        else:
            flat[name] = value
