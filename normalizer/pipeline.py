"""The normalize loop shared by the command line, the worker processes of --jobs and
anything else that turns a stream of read items into output lines.

Every item ends up written: a record as one JSON line, a Reject (or a record the engine
failed on) as one rejects line; the counts say how many of each.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

import orjson

from .readers import Item, Reject
from .ruleset import Ruleset

DUMP_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE


@dataclass
class Counts:
    records_in: int = 0
    records_out: int = 0
    rejected: int = 0
    with_warnings: int = 0

    def add(self, other: "Counts") -> None:
        self.records_in += other.records_in
        self.records_out += other.records_out
        self.rejected += other.rejected
        self.with_warnings += other.with_warnings

    def summary(self) -> str:
        return (
            f"o365norm: {self.records_in} records in, {self.records_out} out, "
            f"{self.rejected} rejected, {self.with_warnings} with warnings"
        )


class StrictFailure(Exception):
    """--strict: a rule failed on a record; the message names the rule and the record."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def normalize_items(items: Iterable[Item], source: str, ruleset: Ruleset, *, nested: bool, strict: bool,
                    write: Callable[[bytes], object], write_reject: Callable[[bytes], object], counts: Counts) -> None:
    """Normalize every item and write it; raises StrictFailure (the failing record unwritten)."""
    normalize = ruleset.normalize if nested else ruleset.normalize_flat
    for item in items:
        counts.records_in += 1
        if item.__class__ is Reject:
            counts.rejected += 1
            write_reject(item.to_json_bytes() + b"\n")
            continue
        line, record = item
        data, warnings = render(normalize, record, source, line, nested)
        if data.__class__ is Reject:
            counts.rejected += 1
            write_reject(data.to_json_bytes() + b"\n")
            continue
        if warnings:
            if strict:
                _check_strict(warnings, source, line)
            counts.with_warnings += 1
        write(data)
        counts.records_out += 1


def render(normalize: Callable[[dict], dict], record: dict, source: str, line: int, nested: bool,
           options: int = DUMP_OPTIONS) -> tuple[bytes | Reject, list | None]:
    """One record's output bytes and its warnings; a Reject with the reason instead when the
    engine fails on it (an engine bug must not lose the record)."""
    try:
        result = normalize(record)
        data = orjson.dumps(result, option=options)
    except Exception as exc:
        raw = orjson.dumps(record, default=str).decode("utf-8", "replace")
        return Reject(source, line, f"internal error: {type(exc).__name__}: {exc}", raw), None
    return data, (result.get("normalizer", {}).get("warnings") if nested else result.get("normalizer.warnings"))


def _check_strict(warnings: list[dict], source: str, line: int) -> None:
    for w in warnings:
        if w["code"].startswith("E"):
            where = f" ({w['source']})" if "source" in w else ""
            target = f", target {w['target']}" if "target" in w else ""
            raise StrictFailure(
                f"{source}:{line}: rule {w.get('rule', '?')}{where} failed{target}: [{w['code']}] {w['message']}"
            )
