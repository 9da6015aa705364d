"""The rule set as loaded from YAML, before compilation: plain data with source positions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .diagnostics import Span
from .enums import EnumTable
from .yaml_source import MarkedDocument, Path


@dataclass(frozen=True)
class ExprSource:
    """An expression's text and where it sits in its YAML file."""

    text: str
    doc: MarkedDocument
    at: Path

    @property
    def span(self) -> Span:
        return self.doc.span(self.at)

    def position(self, line: int, col: int) -> Span:
        return self.doc.expression_position(self.at, line, col)


@dataclass(frozen=True)
class Assignment:
    target: str
    expr: ExprSource
    consumes: bool  # True for `move:`: the raw fields it reads are not passed through again


@dataclass
class RuleDef:
    id: str
    span: Span
    file: "RuleFileDef"
    description: str = ""
    when: ExprSource | None = None
    assignments: list[Assignment] = field(default_factory=list)
    drop: list[str] = field(default_factory=list)
    examples: list[dict[str, Any]] = field(default_factory=list)
    disabled: bool = False

    @property
    def source(self) -> str:
        return f"{self.span.path}:{self.span.line}"


@dataclass
class RuleFileDef:
    path: str
    stream: str
    layer: int  # 0 = built-in, 1.. = --rules overlays in the order given
    doc: MarkedDocument
    description: str = ""
    match: ExprSource | None = None
    lets: dict[str, ExprSource] = field(default_factory=dict)
    rules: list[RuleDef] = field(default_factory=list)


@dataclass
class StreamDef:
    name: str
    passthrough: str
    span: Span
    layer: int
    description: str = ""
    match: ExprSource | None = None
    lets: dict[str, ExprSource] = field(default_factory=dict)
    schema: str | None = None  # output schema file name in schemas/


@dataclass
class RuleSource:
    """Everything loaded from the built-in rules and the overlays, merged."""

    streams: list[StreamDef] = field(default_factory=list)
    files: list[RuleFileDef] = field(default_factory=list)
    enums: dict[str, EnumTable] = field(default_factory=dict)
    texts: dict[str, list[str]] = field(default_factory=dict)  # display path -> source lines

    def active_rules(self) -> list[RuleDef]:
        return [rule for f in self.files for rule in f.rules if not rule.disabled]
