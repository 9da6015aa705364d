"""Diagnostics: stable error codes, source spans and the one rendered format.

Every problem found while loading or compiling rules becomes a ``Diagnostic`` that
knows its file, line and column, and renders as::

    rules/x.yaml:10:23: error[E105] unknown function 'lowr'
       10 |       o365.audit.Foo: lowr(.Foo)
          |                       ^^^^ did you mean 'lower'?

Codes are never reused. E1xx: rule files and expressions (load/compile time).
E2xx: a rule failing on one record (runtime). W3xx: data warnings on a record.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Iterable

CODES: dict[str, str] = {
    # load / compile time
    "E100": "file cannot be read",
    "E101": "YAML syntax error",
    "E102": "duplicate key in YAML mapping",
    "E103": "rule file does not match its schema",
    "E104": "expression syntax error",
    "E105": "unknown function",
    "E106": "wrong number of arguments",
    "E107": "unknown enum table",
    "E108": "invalid regular expression",
    "E109": "duplicate rule id",
    "E110": "target not allowed by the output schema",
    "E111": "argument must be a literal",
    "E112": "enum table does not match its schema",
    "E113": "unknown stream",
    "E114": "invalid literal argument",
    "E115": "duplicate enum table",
    "E116": "duplicate stream",
    "E117": "unknown variable",
    "E118": "file is not a rule file, enum table or stream list",
    # load-time warnings: reported by `check`, never fatal
    "W100": "field looks like a misspelt documented field",
    # runtime, recorded on the record in normalizer.warnings
    "E200": "rule failed on this record",
    "E201": "value cannot be converted",
    "E202": "value has the wrong type",
    "E203": "unknown enum code (table policy on_unknown: error)",
    # data warnings, recorded on the record in normalizer.warnings
    "W300": "unknown enum code",
    "W301": "collection arrived in an unexpected shape",
    "W302": "collection larger than the cap; overflow kept in one key",
    "W303": "embedded JSON could not be parsed",
    "W304": "record matched no stream",
}


@dataclass(frozen=True)
class Span:
    """A position in a source file. Lines and columns are 1-based."""

    path: str
    line: int
    col: int
    end_col: int | None = None

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}"


@dataclass
class Diagnostic:
    code: str
    message: str
    span: Span | None = None
    hint: str | None = None
    severity: str = "error"

    def render(self, source_lines: dict[str, list[str]] | None = None) -> str:
        """Render as ``path:line:col: error[CODE] message`` plus source line and caret."""
        where = f"{self.span}: " if self.span else ""
        head = f"{where}{self.severity}[{self.code}] {self.message}"
        lines = _source_lines(self.span, source_lines)
        if self.span is None or lines is None or not (1 <= self.span.line <= len(lines)):
            return head + (f"\n  = hint: {self.hint}" if self.hint else "")
        text = lines[self.span.line - 1].rstrip("\n")
        gutter = str(self.span.line)
        pad = " " * len(gutter)
        width = 1
        if self.span.end_col and self.span.end_col > self.span.col:
            width = self.span.end_col - self.span.col
        caret = " " * (self.span.col - 1) + "^" * width
        out = [head, f" {gutter} | {text}", f" {pad} | {caret}" + (f" {self.hint}" if self.hint else "")]
        return "\n".join(out)

    def __str__(self) -> str:
        return self.render()


def _source_lines(span: Span | None, cache: dict[str, list[str]] | None) -> list[str] | None:
    if span is None:
        return None
    if cache is not None and span.path in cache:
        return cache[span.path]
    try:
        with open(span.path, encoding="utf-8") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return None
    if cache is not None:
        cache[span.path] = lines
    return lines


def did_you_mean(name: str, candidates: Iterable[str]) -> str | None:
    """A 'did you mean' hint for a misspelt name, or None."""
    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else None


class NormalizerError(Exception):
    """Base class for every error the engine raises on purpose."""


@dataclass
class RuleLoadError(NormalizerError):
    """Rules failed to load or compile; carries every diagnostic found."""

    diagnostics: list[Diagnostic] = field(default_factory=list)
    sources: dict[str, list[str]] = field(default_factory=dict)  # display path -> lines

    def __str__(self) -> str:
        cache = dict(self.sources)
        return "\n".join(d.render(cache) for d in self.diagnostics)


class ExpressionError(NormalizerError):
    """One expression failed to parse or compile (carries a Diagnostic)."""

    def __init__(self, diagnostic: Diagnostic):
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic

    @property
    def code(self) -> str:
        return self.diagnostic.code


class RuleRuntimeError(NormalizerError):
    """Raised by a function when a value cannot be processed; becomes a record warning."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message
