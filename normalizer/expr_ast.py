"""The expression syntax tree: small immutable nodes that remember where they came from.

Positions (``line``, ``col``, ``end_col``) are 1-based and relative to the expression
text; the compiler maps them into the rule file when it reports a problem.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Union


@dataclass(frozen=True)
class Pos:
    line: int
    col: int
    end_col: int | None = None


@dataclass(frozen=True)
class Literal:
    value: Any
    pos: Pos


@dataclass(frozen=True)
class Path:
    """A path read. ``root`` is "." (the current value), "$" (the record) or "$name" (a variable)."""

    root: str
    segments: tuple[Union[str, int], ...]
    pos: Pos


@dataclass(frozen=True)
class Index:
    """``target[key]`` where the key is computed (paths with literal keys fold into Path)."""

    target: "Node"
    key: "Node"
    pos: Pos


@dataclass(frozen=True)
class ListExpr:
    items: tuple["Node", ...]
    pos: Pos


@dataclass(frozen=True)
class ObjectExpr:
    items: tuple[tuple[str, "Node"], ...]
    pos: Pos


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple["Node", ...]
    pos: Pos


@dataclass(frozen=True)
class Unary:
    op: str  # "not"
    operand: "Node"
    pos: Pos


@dataclass(frozen=True)
class Binary:
    op: str  # "??", "or", "and", "==", "!=", "<", "<=", ">", ">=", "in", "not in"
    left: "Node"
    right: "Node"
    pos: Pos


Node = Union[Literal, Path, Index, ListExpr, ObjectExpr, Call, Unary, Binary]


def walk(node: Node):
    """Yield every node of the tree, parents before children."""
    yield node
    if isinstance(node, Index):
        yield from walk(node.target)
        yield from walk(node.key)
    elif isinstance(node, ListExpr):
        for item in node.items:
            yield from walk(item)
    elif isinstance(node, ObjectExpr):
        for _, item in node.items:
            yield from walk(item)
    elif isinstance(node, Call):
        for arg in node.args:
            yield from walk(arg)
    elif isinstance(node, Unary):
        yield from walk(node.operand)
    elif isinstance(node, Binary):
        yield from walk(node.left)
        yield from walk(node.right)
