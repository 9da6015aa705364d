"""Per-record context handed to functions that need more than their arguments.

One context object is reused for every record a ruleset normalizes (reset, not
re-allocated), so functions that only sometimes warn cost nothing extra.
"""

from __future__ import annotations

from dataclasses import dataclass


DEFAULT_COLLECTION_CAP = 100
"""Default number of keys a Name/Value collection may expand to before overflowing."""


@dataclass(frozen=True)
class Options:
    """Settings that change how functions treat data (not which rules run)."""

    collection_cap: int = DEFAULT_COLLECTION_CAP


@dataclass(frozen=True)
class RuleSite:
    """Where a rule lives, for runtime warnings: its id and ``file:line``."""

    rule_id: str
    source: str


class RecordContext:
    __slots__ = ("warnings", "site", "options")

    def __init__(self, options: Options | None = None):
        self.options = options or Options()
        self.warnings: list[dict] | None = None
        self.site: RuleSite | None = None

    def reset(self) -> None:
        self.warnings = None
        self.site = None

    def warn(self, code: str, message: str, target: str | None = None) -> None:
        """Record a warning on the current record, tagged with the current rule."""
        entry = {"code": code, "message": message}
        if self.site is not None:
            entry["rule"] = self.site.rule_id
            entry["source"] = self.site.source
        if target is not None:
            entry["target"] = target
        if self.warnings is None:
            self.warnings = [entry]
        else:
            self.warnings.append(entry)
