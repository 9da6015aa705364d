"""Provenance for one record: which rules ran and where every output attribute came from."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .runtime import flatten
from .ruleset import Ruleset


@dataclass
class RuleOutcome:
    rule_id: str
    source: str
    applied: bool


@dataclass
class AttributeOrigin:
    key: str
    value: Any
    kind: str  # "rule", "passthrough" or "engine"
    rule_id: str | None = None
    source: str | None = None
    target: str | None = None
    reads: list[str] = field(default_factory=list)
    functions: list[str] = field(default_factory=list)
    expression: str | None = None
    raw_path: str | None = None


@dataclass
class Explanation:
    stream: str
    rules: list[RuleOutcome]
    attributes: list[AttributeOrigin]
    output: dict

    def to_dict(self) -> dict:
        return {
            "stream": self.stream,
            "rules": [vars(r) for r in self.rules],
            "attributes": [{k: v for k, v in vars(a).items() if v not in (None, [])} for a in self.attributes],
        }


def _path_text(root: str, segments: tuple) -> str:
    """A read path as the user would write it: ``.A.B``, ``.["odd key"]``, ``$var.x``."""
    text = "" if root in ("$", ".") else root
    for seg in segments:
        if isinstance(seg, int):
            text += f"[{seg}]"
        elif seg.isidentifier():
            text += f".{seg}"
        else:
            text += f'.["{seg}"]'
    return text or "."


def explain(ruleset: Ruleset, record: dict) -> Explanation:
    tree, trace = ruleset.trace(record)
    flat = flatten(tree)
    stream = next((name for kind, name, _ in trace if kind == "stream"), "?")
    outcomes: list[RuleOutcome] = []
    writers: dict[str, Any] = {}
    for kind, site, detail in trace:
        if kind == "rule":
            outcomes.append(RuleOutcome(site.rule_id, site.source, bool(detail)))
        elif kind == "set":
            writers[detail] = site
    infos = {(i.rule.id, i.target): i for i in ruleset.compiled.assignments}
    prefix = next((s.definition.passthrough for s in ruleset.compiled.streams if s.name == stream), "")
    attributes = []
    for key, value in flat.items():
        attributes.append(_origin(key, value, writers, infos, prefix))
    return Explanation(stream, outcomes, attributes, flat)


def _origin(key: str, value: Any, writers: dict, infos: dict, prefix: str) -> AttributeOrigin:
    if key == "normalizer" or key.startswith("normalizer."):
        return AttributeOrigin(key, value, "engine")
    target = None
    for candidate in writers:
        if (key == candidate or key.startswith(candidate + ".")) and (target is None or len(candidate) > len(target)):
            target = candidate
    if target is not None:
        site = writers[target]
        info = infos.get((site.rule_id, target))
        return AttributeOrigin(
            key, value, "rule", rule_id=site.rule_id, source=site.source, target=target,
            reads=sorted({_path_text(root, segs) for root, segs in info.reads}) if info else [],
            functions=sorted(info.calls) if info else [],
            expression=info.expr.text.strip() if info else None,
        )
    raw = key[len(prefix) + 1:] if prefix and key.startswith(prefix + ".") else key
    return AttributeOrigin(key, value, "passthrough", raw_path="." + raw)
