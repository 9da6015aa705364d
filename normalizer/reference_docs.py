"""Generate the README's reference sections from the schemas and the function registry.

The attribute reference comes from schemas/o365.*.schema.json and the function table
from the registry, so neither can drift from the code; a test checks the README holds
exactly this text. Regenerate with ``python -m normalizer.reference_docs --write``.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from .functions import REGISTRY
from .resources import load_schema

SECTIONS = {
    "attributes": lambda: render_attributes(),
    "functions": lambda: render_functions(),
}


def _type_text(spec: dict) -> str:
    if "anyOf" in spec:
        kinds = []
        for sub in spec["anyOf"]:
            kinds.append(sub.get("format", sub.get("type", "")))
        return " / ".join(kinds)
    if "enum" in spec:
        return " / ".join(f"`{v}`" for v in spec["enum"])
    kind = spec.get("type")
    if kind is None:
        return "as sent"
    if isinstance(kind, list):
        return " / ".join(kind)
    return kind


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_attributes() -> str:
    out = []
    for name in ("o365.audit.schema.json", "o365.message.schema.json"):
        schema = load_schema(name)
        out.append(f"#### {schema['title']}")
        out.append("")
        out.append(_cell(schema["description"]))
        out.append("")
        out.append("| attribute | type | description |")
        out.append("| --- | --- | --- |")
        for key, spec in schema["properties"].items():
            out.append(f"| `{key}` | {_type_text(spec)} | {_cell(spec.get('description', ''))} |")
        for pattern, spec in schema.get("patternProperties", {}).items():
            shown = pattern.strip("^$").replace("\\.", ".").replace("[\\s\\S]+", "*")
            out.append(f"| `{shown}` | {_type_text(spec)} | {_cell(spec.get('description', ''))} |")
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def render_functions() -> str:
    out = ["| function | arguments | what it does | example |", "| --- | --- | --- | --- |"]
    for spec in sorted(REGISTRY.values(), key=lambda s: (s.category, s.name)):
        example = spec.examples[0]
        shown = f"`{example.expr}`"
        out.append(f"| `{spec.name}` | {spec.arity_text()} | {_cell(spec.doc)} | {_cell(shown)} |")
    return "\n".join(out) + "\n"


def _markers(name: str) -> tuple[str, str]:
    return f"<!-- generated:{name} begin -->\n", f"<!-- generated:{name} end -->"


def apply(readme: str) -> str:
    for name, render in SECTIONS.items():
        begin, end = _markers(name)
        pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.S)
        readme = pattern.sub(lambda _m: begin + render() + end, readme)
    return readme


def main(argv: list[str]) -> int:
    readme = Path(__file__).resolve().parent.parent / "README.md"
    text = readme.read_text(encoding="utf-8")
    new = apply(text)
    if "--write" in argv:
        readme.write_text(new, encoding="utf-8")
        return 0
    sys.stdout.write(new)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
