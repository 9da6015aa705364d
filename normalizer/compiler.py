"""Rule definitions to one generated Python function per stream, compiled once.

Per stream the generated function evaluates the stream's lets, then each file's
guard, lets and rules in order, writing into the output tree, and finally runs the
passthrough that copies every raw field no rule wrote or consumed. Each assignment
sits in its own ``try`` (free in CPython 3.11 until something raises), so a rule
that fails on one record records a warning and everything else still applies.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from typing import Any, Callable

from .codegen import ExpressionCompiler, Namespace, base_namespace, const_value, kv_collections
from .context import RuleSite
from .diagnostics import Diagnostic, ExpressionError, RuleLoadError, Span, did_you_mean
from .model import Assignment, ExprSource, RuleDef, RuleFileDef, RuleSource, StreamDef
from .resources import load_schema

RESERVED_TARGET_ROOTS = ("normalizer",)


@dataclass
class AssignmentInfo:
    """What explain reports about one assignment."""

    target: str
    rule: RuleDef
    expr: ExprSource
    reads: list[tuple[str, tuple]]
    calls: set[str]
    field_reads: list = field(default_factory=list)


@dataclass
class CompiledStream:
    name: str
    definition: StreamDef
    function: Callable[[dict, Any], dict]  # nested output (the reference semantics)
    flat: Callable[[dict, Any], dict]  # the same, writing flat dotted keys directly (the fast path)
    rules: list[RuleDef] = field(default_factory=list)
    source_code: str = ""
    traced: Callable[[dict, Any], dict] | None = None  # built on first use (explain)


@dataclass
class CompiledRules:
    streams: list[CompiledStream]
    dispatch: Callable[[dict, Any], dict]
    dispatch_flat: Callable[[dict, Any], dict]
    assignments: list[AssignmentInfo]
    rules: list[RuleDef]
    build_traced: Callable[[], Callable[[dict, Any], dict]] = field(repr=False, default=None)
    warnings: list[Diagnostic] = field(default_factory=list)  # not fatal: misspelt-looking fields
    shapes: "ShapeCache | None" = field(repr=False, default=None)  # dispatch_flat specialised per record shape
    _traced: Callable[[dict, Any], dict] | None = field(repr=False, default=None)

    @property
    def dispatch_traced(self) -> Callable[[dict, Any], dict]:
        """The same rules with provenance recording, compiled only when first needed."""
        if self._traced is None:
            self._traced = self.build_traced()
        return self._traced


class _Emitter:
    """Accumulates the lines of one generated function."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.depth = 1

    def line(self, text: str) -> None:
        self.lines.append("    " * self.depth + text)

    def indent(self) -> None:
        self.depth += 1

    def dedent(self) -> None:
        self.depth -= 1


def compile_rules(source: RuleSource) -> CompiledRules:
    """Compile everything; raise RuleLoadError listing every problem found."""
    diags: list[Diagnostic] = []
    ns = Namespace(base_namespace())
    exprs = ExpressionCompiler(ns, source.enums)
    if not source.streams:
        raise RuleLoadError([Diagnostic("E113", "no streams defined (streams.yaml is missing from the rules)")])
    stream_names = {s.name for s in source.streams}
    for rule_file in source.files:
        if rule_file.stream not in stream_names:
            span = rule_file.doc.span(("stream",))
            diags.append(Diagnostic("E113", f"unknown stream '{rule_file.stream}'", span, did_you_mean(rule_file.stream, stream_names)))
    for stream in source.streams:
        if stream.match is not None:
            _try_expr(exprs, stream.match, {}, diags)
    infos: list[AssignmentInfo] = []
    orphans = [f for f in source.files if f.stream not in stream_names]
    if orphans:  # still compile them, so every other problem in them is reported too
        _stream_source(StreamDef("unknown", "o365.unknown", Span("", 1, 1), 0), orphans, exprs, ns, diags, [], mode="tree")
    pieces: list[tuple[StreamDef, list[RuleFileDef], list[str], list[str]]] = []
    for stream in source.streams:
        files = [f for f in source.files if f.stream == stream.name]
        tree = _stream_source(stream, files, exprs, ns, diags, infos, mode="tree")
        flat = _stream_source(stream, files, exprs, ns, [], [], mode="flat")
        pieces.append((stream, files, tree, flat))
    if diags:
        raise RuleLoadError(diags)
    compiled_streams = [
        CompiledStream(stream.name, stream, _materialize(tree, f"stream_{stream.name}", ns),
                       _materialize(flat, f"stream_{stream.name}", ns), [r for f in files for r in f.rules], "\n".join(flat))
        for stream, files, tree, flat in pieces
    ]
    dispatch = _dispatcher(source.streams, compiled_streams, exprs, ns, variant="function")
    dispatch_flat = _dispatcher(source.streams, compiled_streams, exprs, ns, variant="flat")

    def build_traced() -> Callable[[dict, Any], dict]:
        for (stream, files, _, _), cs in zip(pieces, compiled_streams):
            traced = _stream_source(stream, files, exprs, ns, [], [], mode="trace")
            cs.traced = _materialize(traced, f"stream_{stream.name}", ns)
        return _dispatcher(source.streams, compiled_streams, exprs, ns, variant="traced")

    warnings = _field_warnings(source, infos)
    shapes = ShapeCache(source.streams, [(stream, files) for stream, files, _, _ in pieces], exprs, ns, dispatch_flat)
    return CompiledRules(compiled_streams, dispatch, dispatch_flat, infos, source.active_rules(), build_traced,
                         warnings=warnings, shapes=shapes)


class ShapeCache:
    """``dispatch_flat`` specialised to record shapes: one function per tuple of top-level keys.

    Records of one kind have the same keys, so once a shape has been seen ``threshold``
    times it gets its own flat function (``_stream_source`` with ``shape``): the stream
    match, every presence test and strict-root guard is decided at compile time, rules that
    cannot apply are not there, and the passthrough is straight-line code. Its output is
    exactly that of the generic function (the test suite checks it). Rarer shapes, shapes
    beyond ``capacity`` and records with non-string keys use the generic function.
    """

    def __init__(self, streams: list[StreamDef], pieces: list[tuple[StreamDef, list[RuleFileDef]]],
                 exprs: ExpressionCompiler, ns: Namespace, generic: Callable[[dict, Any], dict],
                 threshold: int = 8, capacity: int = 256):
        self.streams = streams
        self.pieces = pieces
        self.exprs = exprs
        self.ns = ns
        self.generic = generic
        self.threshold = threshold
        self.capacity = capacity
        self.functions: dict[tuple, Callable[[dict, Any], dict]] = {}  # shape -> its function
        self._seen: dict[tuple, int] = {}
        self._policies = {stream.name: _target_policy(stream, []) for stream in streams}

    def clear(self) -> None:
        """Forget every specialised function (they are built again as shapes come back)."""
        self.functions.clear()
        self._seen.clear()

    def lookup(self, key: tuple) -> Callable[[dict, Any], dict]:
        """The function for records whose ``tuple(record)`` is ``key``, after a miss in ``functions``."""
        if len(self.functions) >= self.capacity:
            return self.generic
        seen = self._seen.get(key, 0) + 1
        if seen < self.threshold:
            if len(self._seen) >= 4 * self.capacity:
                self._seen.clear()  # bounded: a stream of ever new shapes must not grow it
            self._seen[key] = seen
            return self.generic
        self._seen.pop(key, None)
        fn = self.functions[key] = self.build(key)
        return fn

    def build(self, key: tuple) -> Callable[[dict, Any], dict]:
        if not all(k.__class__ is str for k in key):
            return self.generic
        present = frozenset(key)
        ns, exprs = self.ns, self.exprs
        em = _Emitter()

        def stream_function(stream: StreamDef) -> Callable:
            files = next(f for s, f in self.pieces if s is stream)
            lines = _stream_source(stream, files, exprs, ns, [], [], mode="flat", policy=self._policies[stream.name],
                                   shape=key, name="shape_stream")
            return _materialize(lines, "shape_stream", ns)

        for stream in self.streams:
            if stream.match is None:
                fn = stream_function(stream)
                if not em.lines:
                    return fn  # the usual case: the shape decides the stream, nothing is left to test
                em.line(f"return {ns.const(fn, prefix='T')}(r, ctx)")
                break
            code = exprs.compile(stream.match, {}, shape=present).code
            known, value = const_value(code)
            if known and not value:
                continue
            fn = stream_function(stream)
            if known:
                if not em.lines:
                    return fn
                em.line(f"return {ns.const(fn, prefix='T')}(r, ctx)")
                break
            site = ns.const(RuleSite(f"stream {stream.name}", str(stream.span)), prefix="S")
            em.line("c = r")
            _emit_guarded(em, "g", code, site)
            em.line(f"if g: return {ns.const(fn, prefix='T')}(r, ctx)")
        else:
            last = self.streams[-1]
            fn = stream_function(last)
            em.line("ctx.site = None")
            em.line(f"ctx.warn('W304', 'record matched no stream; normalized as {last.name}')")
            em.line(f"return {ns.const(fn, prefix='T')}(r, ctx)")
        return _materialize(["def shape_dispatch(r, ctx):"] + em.lines, "shape_dispatch", ns)


def _field_warnings(source: RuleSource, infos: list[AssignmentInfo]) -> list[Diagnostic]:
    """Reads of fields that are not documented for the stream but look like one that is."""
    known: dict[str, set[str]] = {}
    for stream in source.streams:
        policy = _target_policy(stream, [])
        prefix = stream.passthrough + "."
        if policy is not None:
            known[stream.name] = {n[len(prefix):].split(".")[0] for n in policy.names if n.startswith(prefix)}
    out: list[Diagnostic] = []
    seen: set[tuple] = set()
    for info in infos:
        names = known.get(info.rule.file.stream)
        if not names:
            continue
        for field_name, span in info.field_reads:
            if field_name in names or (field_name, span.line, span.col) in seen:
                continue
            close = difflib.get_close_matches(field_name, names, n=1, cutoff=0.85)
            if close and close[0].lower() != field_name.lower():
                seen.add((field_name, span.line, span.col))
                out.append(Diagnostic("W100", f"'.{field_name}' is not a documented field of the {info.rule.file.stream} stream",
                                      span, f"did you mean '.{close[0]}'?", severity="warning"))
    return out


def _materialize(lines: list[str], name: str, ns: Namespace) -> Callable:
    code = "\n".join(lines)
    scope = ns.values  # constants and helpers are globals of the generated code
    exec(compile(code, f"<rules:{name}>", "exec"), scope)  # noqa: S102 - our own generated source
    return scope.pop(name)


def _try_expr(exprs: ExpressionCompiler, src: ExprSource, variables: dict[str, str],
              diags: list[Diagnostic], guarded: bool = False, shape: frozenset | None = None):
    try:
        return exprs.compile(src, variables, guarded, shape=shape)
    except ExpressionError as exc:
        diags.append(exc.diagnostic)
        return None


def _emit_guarded(em: _Emitter, var: str, code: str, site: str) -> None:
    """``var = code``, where an exception counts as false and is recorded."""
    em.line("try:")
    em.line(f"    {var} = {code}")
    em.line("except Exception as _e:")
    em.line(f"    {var} = False")
    em.line(f"    _fail(ctx, {site}, None, _e)")


def _emit_lets(em: _Emitter, exprs: ExpressionCompiler, ns: Namespace, lets: dict[str, ExprSource],
               variables: dict[str, str], diags: list[Diagnostic], shape: frozenset | None = None) -> None:
    """Each let is evaluated once; one that fails reads as MISSING (and is recorded).
    In shape mode a let that folded to a constant is not evaluated: its readers get the constant."""
    for name, src in lets.items():
        compiled = _try_expr(exprs, src, variables, diags, shape=shape)
        py = f"v_{name}"
        if compiled is not None and shape is not None and const_value(compiled.code)[0]:
            variables[name] = compiled.code
            continue
        if compiled is not None:
            site = ns.const(RuleSite(f"let {name}", f"{src.span.path}:{src.span.line}"), prefix="S")
            if compiled.uses_context:
                em.line(f"ctx.site = {site}")
            em.line("try:")
            em.line(f"    {py} = {compiled.code}")
            em.line("except Exception as _e:")
            em.line(f"    {py} = M")
            em.line(f"    _fail(ctx, {site}, None, _e)")
        variables[name] = py


class _ShapeState:
    """What shape mode knows while it generates one stream function for one record shape."""

    def __init__(self, keys: tuple):
        self.keys = keys  # the record's top-level keys, in record order
        self.present = frozenset(keys)
        self.consumed: set[str] = set()  # raw fields surely consumed (drop / move that surely ran)
        self.maybe_consumed: set[str] = set()  # raw fields consumed or not depending on values
        self.targets: set[str] = set()  # flat keys rules may write (and normalizer.raw.<Field>)
        self.uses_cons = False
        self.uses_tch = False


def _stream_source(stream: StreamDef, files: list[RuleFileDef], exprs: ExpressionCompiler, ns: Namespace,
                   diags: list[Diagnostic], infos: list[AssignmentInfo], mode: str,
                   policy: "TargetPolicy | None | bool" = False, shape: tuple | None = None,
                   name: str | None = None) -> list[str]:
    """The generated function of one stream. ``mode``: "tree" (nested output, the reference
    semantics), "trace" (tree plus provenance, for explain) or "flat" (flat keys written
    directly; tests check it always equals the flattened tree).

    ``shape`` (flat mode only): the function will only run on records whose top-level keys
    are exactly these, in this order. Presence tests are then decided while compiling, rules
    and assignments that cannot apply are left out, and the passthrough becomes straight-line
    code over the known keys (see ShapeCache)."""
    prefix = tuple(stream.passthrough.split("."))
    trace = mode == "trace"
    if policy is False:
        policy = _target_policy(stream, diags)
    state = _ShapeState(shape) if shape is not None else None
    present = state.present if state is not None else None
    em = _Emitter()
    variables: dict[str, str] = {}
    em.line("c = r")
    em.line("out = {}")
    setup = len(em.lines)  # shape mode inserts cons/tch here when they turn out to be needed
    if state is None:
        em.line("cons = set()")
        if mode == "flat":
            em.line("tch = set()")
        else:
            em.line("P = {}")
            em.line("owned = set()")
    _emit_lets(em, exprs, ns, stream.lets, variables, diags, shape=present)
    report = diags
    written: list[str] = []
    for rule_file in files:
        file_vars = dict(variables)
        guard = "True"
        if rule_file.match is not None:
            compiled = _try_expr(exprs, rule_file.match, file_vars, report, shape=present)
            if compiled is None:
                continue
            known, value = const_value(compiled.code) if state is not None else (False, None)
            if known and not value:
                continue  # shape mode: the file's rules never apply to this shape
            if not known:
                site = ns.const(RuleSite(f"match {rule_file.path}", str(rule_file.match.span)), prefix="S")
                if compiled.uses_context:
                    em.line(f"ctx.site = {site}")
                _emit_guarded(em, "g", compiled.code, site)
                guard = "g"
        em.line(f"if {guard}:  # {rule_file.path}")
        em.indent()
        em.line("pass")
        _emit_lets(em, exprs, ns, rule_file.lets, file_vars, report, shape=present)
        for rule in rule_file.rules:
            _emit_rule(em, exprs, ns, rule, prefix, file_vars, report, infos, mode, policy, written, state,
                       dynamic=guard != "True")
        em.dedent()
    if state is not None:
        _emit_shape_passthrough(em, ns, stream.passthrough + ".", state)
        if state.uses_tch:
            em.lines.insert(setup, "    tch = set()")
        if state.uses_cons:
            em.lines.insert(setup, "    cons = set()")
    elif mode == "flat":
        em.line(f"_ffill(out, {stream.passthrough + '.'!r}, r, cons, tch)")
    else:
        em.line("_fill(P, r, cons)")
        if trace:
            em.line("ctx.trace.append(('passthrough', None, None))")
        em.line(f"_attach(out, {prefix!r}, P)")
    em.line("return out")
    return [f"def {name or 'stream_' + stream.name}(r, ctx):"] + em.lines


def _emit_shape_passthrough(em: _Emitter, ns: Namespace, prefix: str, state: _ShapeState) -> None:
    """The passthrough of ``runtime.ffill`` unrolled over the keys of one record shape.

    A raw field surely consumed is left out; one maybe consumed is tested against ``cons``.
    A field no rule can write at, above or below (the common case) is stored directly, an
    object through ``_fflat`` (ffill's ``_ffill_one`` when nothing is there yet); any other
    goes through ``_fpass``, ffill's own per-field step. Top-level keys with dots can make two
    fields one flat key, so such shapes keep ffill's loop."""
    if any("." in key for key in state.keys):
        state.uses_cons = state.uses_tch = True
        if state.consumed:
            em.line(f"cons.update({ns.const(frozenset(state.consumed))})")
        em.line(f"_ffill(out, {prefix!r}, r, cons, tch)")
        return
    targets = state.targets
    for key in state.keys:
        if key in state.consumed:
            continue
        name = prefix + key
        if key in state.maybe_consumed:
            state.uses_cons = True
            em.line(f"if {key!r} not in cons:")
            em.indent()
        simple = not any(t == name or t.startswith(name + ".") or name.startswith(t + ".") for t in targets)
        if simple:
            em.line(f"v = r[{key!r}]")
            em.line(f"if v.__class__ is dict: _fflat(out, {name!r}, v)")
            em.line(f"else: out[{name!r}] = v")
        else:  # tch only exists when some rule may write below the prefix
            em.line(f"_fpass(out, {name!r}, r[{key!r}], {'tch' if state.uses_tch else '_NOTHING'})")
        if key in state.maybe_consumed:
            em.dedent()


def _emit_rule(em: _Emitter, exprs: ExpressionCompiler, ns: Namespace, rule: RuleDef, prefix: tuple,
               variables: dict[str, str], diags: list[Diagnostic], infos: list[AssignmentInfo], mode: str,
               policy: TargetPolicy | None, written: list[str], state: _ShapeState | None = None,
               dynamic: bool = False) -> None:
    trace = mode == "trace"
    present = state.present if state is not None else None
    site = ns.const(RuleSite(rule.id, rule.source), prefix="S")
    compiled_when = None
    if rule.when is not None:
        compiled_when = _try_expr(exprs, rule.when, variables, diags, shape=present)
    compiled_assignments = []
    memo = {}
    if mode == "flat":  # a Name/Value list both decoded whole and read by name: one pass
        trees = [exprs.tree(a.expr) for a in rule.assignments]
        memo = {f: f"_kv{i}" for i, f in enumerate(kv_collections([t for t in trees if t is not None]))}
    exprs.kv_memo = memo
    try:
        _compile_assignments(exprs, rule, variables, diags, infos, policy, present, state, compiled_assignments)
    finally:
        exprs.kv_memo = {}
    if rule.when is not None and compiled_when is None:
        return  # reported; the generated code is discarded anyway
    if state is not None and compiled_when is not None:
        known, value = const_value(compiled_when.code)
        if known and not value:
            return  # never applies to this shape
        if known:
            compiled_when = None
    if state is not None and compiled_when is None and not compiled_assignments and not rule.drop:
        return  # nothing of this rule applies to this shape
    dynamic = dynamic or compiled_when is not None  # shape mode: whether the rule's effects are certain
    uses_ctx = (compiled_when is not None and compiled_when.uses_context) or any(c.uses_context for _, c in compiled_assignments)
    em.line(f"# rule {rule.id} ({rule.source})")
    if uses_ctx:
        em.line(f"ctx.site = {site}")
    if compiled_when is not None:
        _emit_guarded(em, "w", compiled_when.code, site)
        if trace:
            em.line(f"ctx.trace.append(('rule', {site}, bool(w)))")
        em.line("if w:")
    else:
        if trace:
            em.line(f"ctx.trace.append(('rule', {site}, True))")
        em.line("if True:")
    em.indent()
    em.line("pass")
    for var in memo.values():
        em.line(f"{var} = None")  # the map kv_map builds (kv_gets before it, or a fallback: the calls)
    if rule.drop:
        if state is None or dynamic:
            em.line(f"cons.update({ns.const(frozenset(rule.drop))})")
            if state is not None:
                state.uses_cons = True
                state.maybe_consumed.update(rule.drop)
        else:
            state.consumed.update(rule.drop)
    for assignment, compiled in compiled_assignments:
        path = tuple(assignment.target.split("."))
        if path[: len(prefix)] == prefix and len(path) > len(prefix):
            container, rel = "P", path[len(prefix):]
        else:
            container, rel = "out", path
        roots = None
        if assignment.consumes:
            names = sorted({seg[0] for root, seg in compiled.reads if root == "$" and seg and isinstance(seg[0], str)})
            roots = ns.const(tuple(names)) if names else None
            if state is not None and names:
                state.targets.update("normalizer.raw." + n for n in names)
        guard = "" if state is not None else " and ".join(f"{root!r} in r" for root in sorted(compiled.strict_roots))
        if guard:  # a field the record lacks: the value is surely missing, skip it all
            em.line(f"if {guard}:")
            em.indent()
        keep_raw = "_fkeep_raw" if mode == "flat" else "_keep_raw"
        em.line("try:")
        em.indent()
        em.line(f"_v = {compiled.code}")
        em.line("if _v is not M:")
        em.indent()
        # A whole attribute written as an object replaces the raw field of that name (it is not
        # merged into it); any other value already wins over the raw field by being there.
        replaces = f"cons.add({rel[0]!r})" if container == "P" and len(rel) == 1 else None
        if mode == "flat":
            if state is not None:
                state.targets.add(assignment.target)
                if replaces and not compiled.scalar:
                    state.uses_cons = True
                    state.maybe_consumed.add(rel[0])
            _emit_flat_write(em, ns, assignment.target, container == "P", rel, written, replaces,
                             scalar=state is not None and compiled.scalar, state=state)
        else:
            write = f"{container}[{rel[0]!r}] = _v" if len(rel) == 1 else f"_put({container}, {rel!r}, _v, owned)"
            em.line(write)
            if replaces:
                em.line(f"if _v.__class__ is dict and _v: {replaces}")
        if trace:
            em.line(f"ctx.trace.append(('set', {site}, {assignment.target!r}))")
        em.dedent()
        if roots:  # a move that produced nothing keeps the raw values it read
            em.line("else:")
            em.line(f"    {keep_raw}(out, r, {roots})")
        em.dedent()
        em.line("except Exception as _e:")
        em.line(f"    _fail(ctx, {site}, {assignment.target!r}, _e)")
        if roots:
            em.line(f"    {keep_raw}(out, r, {roots})")
            if state is None or dynamic:
                em.line(f"cons.update({roots})")
                if state is not None:
                    state.uses_cons = True
                    state.maybe_consumed.update(ns.values[roots])
            else:
                state.consumed.update(ns.values[roots])
        written.append(assignment.target)
        if guard:
            em.dedent()
    em.dedent()


def _compile_assignments(exprs: ExpressionCompiler, rule: RuleDef, variables: dict[str, str],
                         diags: list[Diagnostic], infos: list[AssignmentInfo], policy: TargetPolicy | None,
                         present: frozenset | None, state: _ShapeState | None, compiled_assignments: list) -> None:
    for assignment in rule.assignments:
        if state is not None:  # checked and recorded by the first compilation
            if not exprs.strict_roots_of(assignment.expr) <= present:
                continue  # the value is surely missing for this shape: nothing to do at all
            compiled = _try_expr(exprs, assignment.expr, variables, diags, shape=present)
            if compiled is not None:
                compiled_assignments.append((assignment, compiled))
            continue
        target_ok = _check_target(assignment, rule, diags, policy)
        compiled = _try_expr(exprs, assignment.expr, variables, diags, guarded=True)
        if compiled is not None and target_ok:
            compiled_assignments.append((assignment, compiled))
            infos.append(AssignmentInfo(assignment.target, rule, assignment.expr, compiled.reads, compiled.calls,
                                        compiled.field_reads))


def _emit_flat_write(em: _Emitter, ns: Namespace, target: str, under_prefix: bool, rel: tuple,
                     written: list[str], replaces: str | None, scalar: bool = False,
                     state: _ShapeState | None = None) -> None:
    """Write ``_v`` at flat key ``target`` with the effect a nested write would have had on
    what the earlier assignments (``written``, in order) may have put there. ``scalar``: the
    value is known not to be an object, so it is stored as it is."""
    if any(earlier == target or earlier.startswith(target + ".") for earlier in written):
        em.line(f"_fclear(out, {target!r})")  # a nested write replaces the whole object
    for earlier in dict.fromkeys(written):
        if target.startswith(earlier + "."):
            em.line(f"out.pop({earlier!r}, None)")  # a value there becomes an object
    if scalar:
        em.line(f"out[{target!r}] = _v")
    else:
        em.line(f"if _v.__class__ is dict and _v: _fput(out, {target!r}, _v){'; ' + replaces if replaces else ''}")
        em.line(f"else: out[{target!r}] = _v")
    if under_prefix and len(rel) > 1:  # objects the passthrough must merge into, not replace
        base = target[: len(target) - len(".".join(rel))]
        ancestors = frozenset(base + ".".join(rel[:i]) for i in range(1, len(rel)))
        em.line(f"tch.update({ns.const(ancestors)})")
        if state is not None:
            state.uses_tch = True


class TargetPolicy:
    """Which targets a stream's output schema allows.

    Built-in rules may only write attributes the schema lists (by name or by a collection
    pattern), so the schema and the rules cannot drift apart. Overlay rules may also write
    any attribute the schema's passthrough pattern admits (a new o365.audit.<Name>).
    """

    def __init__(self, schema_name: str, schema: dict):
        self.schema_name = schema_name
        self.names = set(schema.get("properties", {}))
        self.patterns = [(re.compile(p), bool(sub.get("x-passthrough"))) for p, sub in schema.get("patternProperties", {}).items()]

    def allows(self, target: str, builtin: bool) -> bool:
        if target in self.names:
            return True
        return any(rx.search(target) and not (passthrough and builtin) for rx, passthrough in self.patterns)


def _check_target(assignment: Assignment, rule: RuleDef, diags: list[Diagnostic], policy: TargetPolicy | None) -> bool:
    root = assignment.target.split(".", 1)[0]
    span = rule.file.doc.span(assignment.expr.at, key=True)
    if root in RESERVED_TARGET_ROOTS:
        diags.append(Diagnostic("E110", f"target '{assignment.target}' is reserved for the engine", span))
        return False
    if policy is not None and not policy.allows(assignment.target, builtin=rule.file.layer == 0):
        diags.append(Diagnostic(
            "E110", f"target '{assignment.target}' is not in the output schema {policy.schema_name}", span,
            did_you_mean(assignment.target, policy.names),
        ))
        return False
    return True


def _target_policy(stream: StreamDef, diags: list[Diagnostic]) -> TargetPolicy | None:
    if not stream.schema:
        return None
    try:
        return TargetPolicy(stream.schema, load_schema(stream.schema))
    except (OSError, ValueError) as exc:
        diags.append(Diagnostic("E100", f"stream '{stream.name}': cannot read output schema {stream.schema}: {exc}", stream.span))
        return None


def _dispatcher(streams: list[StreamDef], compiled: list[CompiledStream], exprs: ExpressionCompiler,
                ns: Namespace, variant: str) -> Callable:
    """Route a record to the first stream whose match is true (``variant``: function, flat, traced)."""
    em = _Emitter()
    traced = variant == "traced"
    for stream, cs in zip(streams, compiled):
        fn = ns.const(getattr(cs, variant), prefix="T")
        note = f"ctx.trace.append(('stream', {stream.name!r}, None)); " if traced else ""
        if stream.match is None:
            em.line(f"{note}return {fn}(r, ctx)")
            break
        code = exprs.compile(stream.match, {}).code
        site = ns.const(RuleSite(f"stream {stream.name}", str(stream.span)), prefix="S")
        em.line("c = r")
        _emit_guarded(em, "g", code, site)
        em.line(f"if g: {note}return {fn}(r, ctx)")
    else:
        last = ns.const(getattr(compiled[-1], variant), prefix="T")
        em.line("ctx.site = None")
        if traced:
            em.line(f"ctx.trace.append(('stream', {compiled[-1].name!r}, None))")
        em.line(f"ctx.warn('W304', 'record matched no stream; normalized as {compiled[-1].name}')")
        em.line(f"return {last}(r, ctx)")
    return _materialize(["def dispatch(r, ctx):"] + em.lines, "dispatch", ns)
