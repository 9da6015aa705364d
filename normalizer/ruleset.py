"""The public entry point: load, compile and apply a rule set.

``load_ruleset()`` reads the built-in rules plus any overlay directories, compiles
them once, and returns a ``Ruleset`` whose ``normalize()`` turns one raw record
(a dict) into its normalized form.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from .compiler import CompiledRules, compile_rules
from .context import Options, RecordContext
from .diagnostics import RuleLoadError
from .loader import load_sources
from .model import RuleSource
from .resources import builtin_rules_dir


class _TraceContext(RecordContext):
    __slots__ = ("trace",)

    def reset(self) -> None:
        super().reset()
        self.trace = []


@dataclass(repr=False)
class Ruleset:
    source: RuleSource
    compiled: CompiledRules
    options: Options

    def __post_init__(self) -> None:
        self._ctx = RecordContext(self.options)
        self._dispatch = self.compiled.dispatch
        self._dispatch_flat = self.compiled.dispatch_flat
        self._shapes = self.compiled.shapes
        self._shape_functions = self._shapes.functions if self._shapes is not None else None

    def __repr__(self) -> str:  # short: test failures and logs print it
        return f"<Ruleset: {self.rule_count} rules, {len(self.source.streams)} streams>"

    def normalize(self, record: dict) -> dict:
        """One raw record (a JSON object) to its normalized, nested form."""
        ctx = self._ctx
        ctx.reset()
        tree = self._dispatch(record, ctx)
        if ctx.warnings:
            _add_warnings(tree, ctx.warnings)
        return tree

    def normalize_flat(self, record: dict) -> dict:
        """One raw record to flat dotted keys (the default output shape).

        Runs the flat variant of the compiled rules, which writes the keys directly; it
        always equals ``flatten(normalize(record))`` (checked by the test suite)."""
        ctx = self._ctx
        ctx.reset()
        if record.__class__ is dict and self._shape_functions is not None:
            key = tuple(record)
            fn = self._shape_functions.get(key)
            if fn is None:
                fn = self._shapes.lookup(key)
            flat = fn(record, ctx)
        else:
            flat = self._dispatch_flat(record, ctx)
        if ctx.warnings:
            flat["normalizer.warnings"] = ctx.warnings
        return flat

    def trace(self, record: dict) -> tuple[dict, list[tuple]]:
        """Normalize with provenance: the output tree and the trace of guards and writes."""
        ctx = _TraceContext(self.options)
        ctx.reset()
        tree = self.compiled.dispatch_traced(record, ctx)
        if ctx.warnings:
            _add_warnings(tree, ctx.warnings)
        return tree, ctx.trace

    @property
    def warnings(self):
        """Load-time warnings (not fatal): reads of fields that look misspelt."""
        return self.compiled.warnings

    @property
    def rule_count(self) -> int:
        return len(self.compiled.rules)


def _add_warnings(tree: dict, warnings: list[dict]) -> None:
    engine = tree.get("normalizer")
    if engine is None:
        tree["normalizer"] = {"warnings": warnings}
    else:
        engine["warnings"] = warnings


def rule_layers(overlays: Iterable[str | Path] = (), builtin: bool = True) -> list[tuple[Path, str]]:
    """The rule directories in precedence order, each with the name shown in messages."""
    layers = [(builtin_rules_dir(), "rules")] if builtin else []
    layers.extend((Path(p), str(p)) for p in overlays)
    return layers


def load_ruleset(overlays: Iterable[str | Path] = (), *, builtin: bool = True, options: Options | None = None) -> Ruleset:
    """Load and compile the rules. Raises RuleLoadError with every diagnostic found."""
    return load_layers(rule_layers(overlays, builtin), options=options)


def load_layers(layers: Iterable[tuple[Path, str]], *, options: Options | None = None) -> Ruleset:
    """``load_ruleset`` for explicit (directory, display name) layers: rules copied somewhere else
    (a Spark executor's temporary directory) keep the names they have on the driver, in load
    errors and in the rule ``source`` of runtime warnings."""
    source, diags = load_sources(layers)
    compiled = None
    try:
        compiled = compile_rules(source)
    except RuleLoadError as exc:
        diags.extend(exc.diagnostics)
    if diags or compiled is None:
        diags.sort(key=lambda d: (d.span.path, d.span.line, d.span.col) if d.span else ("", 0, 0))
        raise RuleLoadError(diags, source.texts)
    return Ruleset(source, compiled, options or Options())
