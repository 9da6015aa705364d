"""Enum tables as data: ``rules/enums/*.yaml`` loaded into immutable lookup tables.

A table maps codes (ints; numeric strings accepted) to names, accepts names and
aliases on input, and has an explicit policy for unknown codes: ``warn`` (the
default: no name, a W300 warning on the record), ``ignore`` (no name, no warning)
or ``error`` (the assignment fails like any runtime rule error). Decoding never
fails the record.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .diagnostics import RuleRuntimeError
from .missing import MISSING

_INT_TEXT = re.compile(r"\s*[-+]?\d+\s*\Z")

ON_UNKNOWN = ("warn", "ignore", "error")
_FAST_TEXTS = 1024  # texts remembered per table and decoder


@dataclass
class EnumTable:
    name: str
    source: str
    on_unknown: str = "warn"
    description: str = ""
    codes: dict[int, str] = field(default_factory=dict)
    notes: dict[int, dict] = field(default_factory=dict)  # per-code confidence / note
    aliases: dict[str, int] = field(default_factory=dict)  # alternative input names -> code
    origin: str = ""  # file:line of the table, for messages
    _by_name: dict[str, int] = field(default_factory=dict, repr=False)
    _by_folded: dict[str, int] = field(default_factory=dict, repr=False)
    # Answers already given: decode_name for every int code and each text decoded before,
    # decode_code for each text decoded before. Always the same dict objects (generated code
    # reads them directly), bounded, and refilled by reindex().
    fast_names: dict = field(default_factory=dict, repr=False, compare=False)
    fast_codes: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.reindex()

    def reindex(self) -> None:
        by_name: dict[str, int] = {}
        for code, name in self.codes.items():
            by_name.setdefault(name, code)
        for alias, code in self.aliases.items():
            by_name.setdefault(alias, code)
        self._by_name = by_name
        self._by_folded = {}
        for key, code in by_name.items():
            self._by_folded.setdefault(_fold(key), code)
        self.fast_names.clear()
        self.fast_names.update(self.codes)
        self.fast_codes.clear()

    def extend(self, other: "EnumTable", *, policy_given: bool) -> None:
        """Overlay ``other`` onto this table: its codes and aliases are added or replace ours."""
        self.codes.update(other.codes)
        self.notes.update(other.notes)
        self.aliases.update(other.aliases)
        if other.source:
            self.source = f"{self.source}; overlay: {other.source}"
        if policy_given:
            self.on_unknown = other.on_unknown
        self.reindex()

    # -- decoding -------------------------------------------------------------------
    def lookup_code(self, value: Any) -> int | None:
        """The code ``value`` stands for (int, numeric string, name or alias), or None."""
        cls = value.__class__
        if cls is int:
            return value
        if cls is str:
            if _INT_TEXT.match(value) and len(value) < 20:
                return int(value)
            code = self._by_name.get(value)
            if code is None:
                code = self._by_folded.get(_fold(value))
            return code
        if cls is float and value.is_integer() and abs(value) < 2**63:
            return int(value)
        return None

    def decode_name(self, ctx, value: Any) -> Any:
        """Decoded name for ``value``; MISSING (plus the unknown policy) when it has none."""
        cls = value.__class__
        if cls is int or cls is str:
            found = self.fast_names.get(value)
            if found is not None:
                return found
        elif value is MISSING or value is None:
            return MISSING
        code = self.lookup_code(value)
        if code is not None:
            found = self.codes.get(code)
            if found is not None:
                if cls is str and len(self.fast_names) < len(self.codes) + _FAST_TEXTS:
                    self.fast_names[value] = found
                return found
        return self._unknown(ctx, value)

    def decode_code(self, ctx, value: Any) -> Any:
        """The numeric code for ``value`` (int, numeric string or known name), known or not;
        MISSING when it is not a code at all (an unknown name, a list...), so the attribute
        keeps its type and a ``move`` keeps the raw value under ``normalizer.raw``."""
        cls = value.__class__
        if cls is int or value is MISSING or value is None:
            return value
        if cls is str:
            code = self.fast_codes.get(value)
            if code is not None:
                return code
        code = self.lookup_code(value)
        if code is None:
            return MISSING
        if cls is str and len(self.fast_codes) < _FAST_TEXTS:
            self.fast_codes[value] = code
        return code

    def _unknown(self, ctx, value: Any) -> Any:
        if self.on_unknown == "ignore":
            return MISSING
        message = f"unknown {self.name} value {value!r}"
        if self.on_unknown == "error":
            raise RuleRuntimeError("E203", message)
        ctx.warn("W300", message)
        return MISSING


def _fold(text: str) -> str:
    return text.replace(" ", "").replace("_", "").lower()


def table_from_data(data: dict, origin: str) -> EnumTable:
    """Build a table from an enum file already validated against its schema."""
    codes: dict[int, str] = {}
    notes: dict[int, dict] = {}
    for key, entry in (data.get("values") or {}).items():
        code = int(key)
        if isinstance(entry, dict):
            codes[code] = entry["name"]
            meta = {k: v for k, v in entry.items() if k != "name"}
            if meta:
                notes[code] = meta
        else:
            codes[code] = str(entry)
    aliases = {str(k): int(v) for k, v in (data.get("aliases") or {}).items()}
    return EnumTable(
        name=data["enum"],
        source=data.get("source", ""),
        on_unknown=data.get("on_unknown", "warn"),
        description=data.get("description", ""),
        codes=codes,
        notes=notes,
        aliases=aliases,
        origin=origin,
    )
