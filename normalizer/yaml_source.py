"""Marked YAML loading: plain data plus the source position of every node.

Rules are YAML, and every problem in them must point at ``file:line:col``. We compose
the YAML into nodes (which carry marks), reject duplicate keys, build plain data from
the nodes, and keep a table from each data path to its node. JSON Schema errors and
expression errors are then mapped back to exact positions through that table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from .diagnostics import Diagnostic, Span

try:  # libyaml is much faster when present; behaviour is the same
    _BaseLoader = yaml.CSafeLoader  # type: ignore[attr-defined]
except AttributeError:  # pragma: no cover
    _BaseLoader = yaml.SafeLoader


class _Loader(_BaseLoader):  # type: ignore[misc, valid-type]
    """Safe loader that leaves timestamps as strings (raw records carry them as text)."""


_Loader.yaml_implicit_resolvers = {
    ch: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for ch, resolvers in _BaseLoader.yaml_implicit_resolvers.items()
}

Path = tuple  # a path into the data: keys (str) and list indexes (int)


@dataclass
class MarkedDocument:
    """A YAML file as plain data, with a node for every path inside it."""

    path: str
    data: Any
    text: str = ""
    nodes: dict[Path, yaml.Node] = field(default_factory=dict)
    key_nodes: dict[Path, yaml.Node] = field(default_factory=dict)

    def span(self, at: Path, *, key: bool = False) -> Span:
        """The position of the value at ``at`` (or of its key), falling back to its parent."""
        table = self.key_nodes if key else self.nodes
        probe = tuple(at)
        while probe not in table and probe:
            probe = probe[:-1]
            table = self.nodes
        node = table.get(probe)
        if node is None:
            return Span(self.path, 1, 1)
        mark, end = node.start_mark, node.end_mark
        end_col = end.column + 1 if isinstance(node, yaml.ScalarNode) and end.line == mark.line else None
        return Span(self.path, mark.line + 1, mark.column + 1, end_col)

    def _block_position(self, node: yaml.ScalarNode, line: int, col: int) -> Span:
        return _block_position_impl(self, node, line, col)

    def scalar_text(self, at: Path) -> str | None:
        """The source text of the scalar at ``at`` (expressions are read verbatim)."""
        node = self.nodes.get(tuple(at))
        if isinstance(node, yaml.ScalarNode):
            return node.value
        return None

    def expression_position(self, at: Path, line: int, col: int) -> Span:
        """Map (line, col) inside the expression scalar at ``at`` to a file position."""
        node = self.nodes.get(tuple(at))
        if not isinstance(node, yaml.ScalarNode):
            return self.span(at)
        mark = node.start_mark
        style = node.style
        if style in ("|", ">"):
            return self._block_position(node, line, col)
        offset = 1 if style in ("'", '"') else 0
        return Span(self.path, mark.line + line, mark.column + offset + col)


def _value_offset(value: str, line: int, col: int) -> int:
    """Offset of a 1-based (line, col) inside ``value``."""
    pos = 0
    for _ in range(line - 1):
        nxt = value.find("\n", pos)
        if nxt < 0:
            break
        pos = nxt + 1
    return pos + col - 1


def _block_position_impl(doc: "MarkedDocument", node: yaml.ScalarNode, line: int, col: int) -> Span:
    """Literal (|) and folded (>) blocks: walk the source lines consuming the value's characters,
    one separator per line break (folding turns it into a space, literal keeps the newline)."""
    target = _value_offset(node.value, line, col)
    consumed = 0
    last = None
    for n, indent, content in _block_lines(doc.text, node.start_mark.line):
        last = (n, indent, content)
        if target <= consumed + len(content):
            return Span(doc.path, n + 1, indent + (target - consumed) + 1)
        consumed += len(content) + 1
    if last is None:
        return Span(doc.path, node.start_mark.line + 1, node.start_mark.column + 1)
    n, indent, content = last
    return Span(doc.path, n + 1, indent + len(content) + 1)


def _block_lines(text: str, start_line: int) -> list[tuple[int, int, str]]:
    """(0-based line, indent, content) of the lines of a block scalar after its indicator."""
    lines = text.splitlines()
    out: list[tuple[int, int, str]] = []
    indent = None
    for n in range(start_line + 1, len(lines)):
        raw = lines[n]
        stripped = raw.lstrip(" ")
        if not stripped:
            out.append((n, indent or 0, ""))
            continue
        here = len(raw) - len(stripped)
        if indent is None:
            indent = here
        elif here < indent:
            break
        out.append((n, indent, raw[indent:]))
    return out


def load_marked(path: str, text: str | None = None, display: str | None = None) -> tuple[MarkedDocument | None, list[Diagnostic]]:
    """Load one YAML file. Returns the document (None if unusable) and any diagnostics.

    ``display`` is the name used in messages (built-in rules show as ``rules/...``).
    """
    real = path
    path = display or path
    if text is None:
        try:
            with open(real, encoding="utf-8") as fh:
                text = fh.read()
        except (OSError, UnicodeDecodeError) as exc:
            return None, [Diagnostic("E100", f"cannot read rule file: {exc}", Span(path, 1, 1))]
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        span = Span(path, mark.line + 1, mark.column + 1) if mark else Span(path, 1, 1)
        return None, [Diagnostic("E101", f"YAML syntax error: {exc.problem or exc.context}", span)]
    except yaml.YAMLError as exc:
        return None, [Diagnostic("E101", f"YAML syntax error: {exc}", Span(path, 1, 1))]
    finally:
        loader.dispose()
    doc = MarkedDocument(path=path, data=None, text=text)
    diags: list[Diagnostic] = []
    if root is None:
        doc.data = None
        return doc, diags
    constructor = _Loader("")
    try:
        doc.data = _build(root, (), doc, diags, constructor)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        span = Span(path, mark.line + 1, mark.column + 1) if mark else Span(path, 1, 1)
        diags.append(Diagnostic("E101", f"YAML error: {getattr(exc, 'problem', exc)}", span))
        return None, diags
    return doc, diags


def _build(node: yaml.Node, at: Path, doc: MarkedDocument, diags: list[Diagnostic], loader: Any) -> Any:
    doc.nodes[at] = node
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)  # resolves YAML merge keys (<<)
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            key = key if isinstance(key, str) else _scalar_key_text(key_node, key)
            if key in out:
                first = doc.key_nodes[at + (key,)].start_mark
                start, end = key_node.start_mark, key_node.end_mark
                end_col = end.column + 1 if end.line == start.line else None
                diags.append(
                    Diagnostic(
                        "E102",
                        f"duplicate key '{key}' (first defined at line {first.line + 1})",
                        Span(doc.path, start.line + 1, start.column + 1, end_col),
                    )
                )
                continue
            doc.key_nodes[at + (key,)] = key_node
            out[key] = _build(value_node, at + (key,), doc, diags, loader)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, at + (i,), doc, diags, loader) for i, item in enumerate(node.value)]
    return loader.construct_object(node, deep=True)


def _scalar_key_text(node: yaml.Node, value: Any) -> str:
    """Mapping keys become strings (JSON has no other kind); ints keep their digits."""
    if isinstance(node, yaml.ScalarNode):
        if isinstance(value, bool) or value is None:
            return node.value
        return str(value)
    return str(value)
