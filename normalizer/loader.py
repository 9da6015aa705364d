"""Load rule layers (built-in rules, then each ``--rules`` overlay) into a RuleSource.

Precedence, from lowest to highest: the built-in rules, then overlays in the order
given. Within a layer files are read in path order. A rule whose id already exists
in a lower layer replaces it (``disabled: true`` just removes it); an enum table with
an existing name extends it (or replaces it with ``replace: true``); a stream with an
existing name replaces it, and new streams are tried before the existing ones.
Every problem in every file is collected before anything is raised.
"""

from __future__ import annotations

from pathlib import Path as FilePath
from typing import Any, Iterable

from jsonschema import Draft202012Validator

from .diagnostics import Diagnostic, Span, did_you_mean
from .enums import table_from_data
from .model import Assignment, ExprSource, RuleDef, RuleFileDef, RuleSource, StreamDef
from .resources import load_schema
from .yaml_source import MarkedDocument, load_marked

_KINDS = {"rules": "rules.schema.json", "enum": "enum.schema.json", "streams": "streams.schema.json"}


def rule_files(directory: FilePath) -> list[FilePath]:
    """Every YAML file below ``directory``, in a stable order."""
    return sorted(p for p in directory.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())


def load_sources(layers: Iterable[tuple[FilePath, str]]) -> tuple[RuleSource, list[Diagnostic]]:
    """Load each (directory, display name) layer; the display name prefixes paths in messages."""
    source = RuleSource()
    diags: list[Diagnostic] = []
    rule_owner: dict[str, RuleDef] = {}
    for layer, (directory, display) in enumerate(layers):
        directory = FilePath(directory)
        if not directory.is_dir():
            diags.append(Diagnostic("E100", f"rule directory not found: {display}", Span(display, 1, 1)))
            continue
        seen_rules: dict[str, RuleDef] = {}
        seen_enums: dict[str, str] = {}
        seen_streams: dict[str, Span] = {}
        new_streams: list[StreamDef] = []
        for path in rule_files(directory):
            shown = f"{display.rstrip('/')}/{path.relative_to(directory).as_posix()}"
            doc, file_diags = load_marked(str(path), display=shown)
            diags.extend(file_diags)
            if doc is None:
                source.texts[shown] = _read_lines(path)
                continue
            source.texts[shown] = doc.text.splitlines()
            kind = _kind_of(doc, diags)
            if kind is None:
                continue
            broken = _validate(doc, kind, diags)
            if broken is None:
                continue
            if kind == "enum":
                _add_enum(source, doc, seen_enums, diags)
            elif kind == "streams":
                for stream in _streams_of(doc, layer):
                    if stream.name in seen_streams:
                        diags.append(Diagnostic("E116", f"duplicate stream '{stream.name}' (first defined at {seen_streams[stream.name]})", stream.span))
                        continue
                    seen_streams[stream.name] = stream.span
                    new_streams.append(stream)
            else:
                rule_file = _rule_file_of(doc, layer, skip=broken)
                source.files.append(rule_file)
                for rule in rule_file.rules:
                    if rule.id in seen_rules:
                        first = seen_rules[rule.id]
                        diags.append(Diagnostic("E109", f"duplicate rule id '{rule.id}' (first defined at {first.span})", rule.span))
                        rule.disabled = True
                        continue
                    seen_rules[rule.id] = rule
                    earlier = rule_owner.get(rule.id)
                    if earlier is not None:  # an overlay replaces (or disables) a lower layer's rule
                        earlier.file.rules.remove(earlier)
                    rule_owner[rule.id] = rule
        _merge_streams(source, new_streams)
    for rule_file in source.files:
        rule_file.rules = [r for r in rule_file.rules if not r.disabled]
    return source, diags


def _read_lines(path: FilePath) -> list[str]:
    try:
        return path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []


def _kind_of(doc: MarkedDocument, diags: list[Diagnostic]) -> str | None:
    data = doc.data
    if isinstance(data, dict):
        for key in ("rules", "enum", "streams"):
            if key in data:
                return key
    diags.append(Diagnostic("E118", "not a rule file (no 'rules'), enum table (no 'enum') or stream list (no 'streams')", doc.span(())))
    return None


def _validate(doc: MarkedDocument, kind: str, diags: list[Diagnostic]) -> set[int] | None:
    """Validate against the kind's schema. Returns the indexes of broken rules, or None
    when the file as a whole is unusable. Rules that are fine still get compiled, so
    one run reports schema and expression problems together."""
    validator = Draft202012Validator(load_schema(_KINDS[kind]))
    code = "E112" if kind == "enum" else "E103"
    found = []
    broken_rules: set[int] = set()
    whole_file = False
    for error in validator.iter_errors(doc.data):
        found.append(_schema_diagnostic(doc, error, code))
        path = tuple(error.absolute_path)
        if kind == "rules" and len(path) >= 2 and path[0] == "rules" and isinstance(path[1], int):
            broken_rules.add(path[1])
        else:
            whole_file = True
    found.sort(key=lambda d: (d.span.line, d.span.col) if d.span else (0, 0))
    diags.extend(found)
    return None if whole_file else broken_rules


def _schema_diagnostic(doc: MarkedDocument, error: Any, code: str) -> Diagnostic:
    at = tuple(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = list(error.schema.get("properties", {}))
        extras = [k for k in error.instance if k not in allowed]
        if extras:
            key = extras[0]
            return Diagnostic(code, f"unknown key '{key}'", doc.span(at + (key,), key=True), hint=did_you_mean(key, allowed))
    if error.validator == "anyOf" and all(set(s) == {"required"} for s in error.validator_value):
        names = ", ".join(s["required"][0] for s in error.validator_value)
        return Diagnostic(code, f"needs at least one of: {names}", doc.span(at))
    if "propertyNames" in error.schema_path and isinstance(error.instance, str):
        what = "code" if "enum" in error.schema.get("pattern", "") or error.schema.get("pattern") == "^-?[0-9]+$" else "name"
        return Diagnostic(code, f"invalid {what} '{error.instance}' ({error.message})", doc.span(at + (error.instance,), key=True))
    return Diagnostic(code, error.message, doc.span(at))


def _expr(doc: MarkedDocument, at: tuple, value: Any) -> ExprSource:
    text = doc.scalar_text(at)
    if text is None:
        text = "null" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
    return ExprSource(text, doc, at)


def _lets(doc: MarkedDocument, at: tuple, data: dict | None) -> dict[str, ExprSource]:
    return {name: _expr(doc, at + (name,), value) for name, value in (data or {}).items()}


def _rule_file_of(doc: MarkedDocument, layer: int, skip: set[int] = frozenset()) -> RuleFileDef:
    data = doc.data
    rule_file = RuleFileDef(
        path=doc.path,
        stream=data["stream"],
        layer=layer,
        doc=doc,
        description=data.get("description", ""),
        match=_expr(doc, ("match",), data["match"]) if "match" in data else None,
        lets=_lets(doc, ("let",), data.get("let")),
    )
    for i, raw in enumerate(data["rules"]):
        if i in skip:
            continue
        at = ("rules", i)
        rule = RuleDef(
            id=raw["id"],
            span=doc.span(at + ("id",)),
            file=rule_file,
            description=raw.get("description", ""),
            when=_expr(doc, at + ("when",), raw["when"]) if "when" in raw else None,
            drop=list(raw.get("drop", [])),
            examples=list(raw.get("examples", [])),
            disabled=bool(raw.get("disabled", False)),
        )
        for kind in ("set", "move"):
            for target, value in (raw.get(kind) or {}).items():
                rule.assignments.append(Assignment(target, _expr(doc, at + (kind, target), value), consumes=kind == "move"))
        rule_file.rules.append(rule)
    return rule_file


def _streams_of(doc: MarkedDocument, layer: int) -> list[StreamDef]:
    out = []
    for i, raw in enumerate(doc.data["streams"]):
        at = ("streams", i)
        out.append(
            StreamDef(
                name=raw["name"],
                passthrough=raw["passthrough"],
                span=doc.span(at + ("name",)),
                layer=layer,
                description=raw.get("description", ""),
                match=_expr(doc, at + ("match",), raw["match"]) if "match" in raw else None,
                lets=_lets(doc, at + ("let",), raw.get("let")),
                schema=raw.get("schema"),
            )
        )
    return out


def _merge_streams(source: RuleSource, new: list[StreamDef]) -> None:
    existing = {s.name: i for i, s in enumerate(source.streams)}
    fresh = []
    for stream in new:
        if stream.name in existing:
            source.streams[existing[stream.name]] = stream
        else:
            fresh.append(stream)
    source.streams[:0] = fresh


def _add_enum(source: RuleSource, doc: MarkedDocument, seen: dict[str, str], diags: list[Diagnostic]) -> None:
    data = doc.data
    name = data["enum"]
    origin = str(doc.span(("enum",)))
    if name in seen:
        diags.append(Diagnostic("E115", f"duplicate enum table '{name}' (first defined at {seen[name]})", doc.span(("enum",))))
        return
    seen[name] = origin
    table = table_from_data(data, origin)
    base = source.enums.get(name)
    if base is None or data.get("replace"):
        source.enums[name] = table
    else:
        base.extend(table, policy_given="on_unknown" in data)
