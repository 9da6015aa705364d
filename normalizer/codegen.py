"""Expression syntax trees to Python source, checked against functions, enums and variables.

Each expression becomes one Python expression string that the rule compiler splices
into a generated function, so per record there is no tree walking and no dispatch:
just the code the rule means. Everything that can be checked here is (unknown
functions, arity, enum tables, regexes, variables), and reported at the exact
character in the rule file.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any

from . import expr_ast as A
from .diagnostics import Diagnostic, ExpressionError, Span, did_you_mean
from .enums import EnumTable
from .expr_parser import parse
from .functions import REGISTRY, FunctionSpec
from .missing import MISSING
from .model import ExprSource


class Namespace:
    """Constants and helpers the generated code refers to by name."""

    def __init__(self, base: dict[str, Any]):
        self.values: dict[str, Any] = dict(base)
        self._ids: dict[int, str] = {}
        self._by_value: dict[tuple, str] = {}

    def const(self, value: Any, prefix: str = "K") -> str:
        key = id(value)
        name = self._ids.get(key)
        if name is None:
            # Equal hashable constants share one name, so code generated again for another
            # record shape (see compiler.ShapeCache) does not grow the namespace.
            try:
                vkey = (type(value), prefix, value)
                name = self._by_value.get(vkey)
            except TypeError:
                vkey = None
            if name is None:
                name = f"{prefix}{len(self.values)}"
                self.values[name] = value
                self._ids[key] = name  # only ids of values kept alive here, so never reused
                if vkey is not None:
                    self._by_value[vkey] = name
        return name


@dataclass
class Compiled:
    """One compiled expression: its Python source and what it reads and calls."""

    code: str
    reads: list[tuple[str, tuple]] = field(default_factory=list)  # (root, segments)
    calls: set[str] = field(default_factory=set)
    uses_context: bool = False
    strict_roots: frozenset = frozenset()  # record fields without which the value is surely missing
    field_reads: list[tuple[str, Span]] = field(default_factory=list)  # top-level record fields read, with where
    scalar: bool = False  # the value is surely not an object (no flattening, no merge checks on write)


def strict_roots(node: A.Node, top: bool = True) -> frozenset:
    """Top-level record fields whose absence makes ``node`` evaluate to MISSING.

    The rule compiler guards an assignment with ``"Field" in r`` for these, so a rule
    about a field the record does not have costs one dict lookup. Relies on the registry
    contract: a function that does not accept MISSING returns MISSING when its first value
    argument is MISSING.
    """
    if isinstance(node, A.Path):
        if node.segments and isinstance(node.segments[0], str) and (node.root == "$" or (node.root == "." and top)):
            return frozenset([node.segments[0]])
        return frozenset()
    if isinstance(node, A.Binary) and node.op == "??":
        return strict_roots(node.left, top) & strict_roots(node.right, top)
    if isinstance(node, A.Index):
        return strict_roots(node.target, top)
    if isinstance(node, A.Call):
        spec = REGISTRY.get(node.name)
        if spec is None or not node.args:
            return frozenset()
        if node.name == "when" and len(node.args) == 2:
            return strict_roots(node.args[1], top)
        if node.name == "if_else" and len(node.args) == 3:
            return strict_roots(node.args[1], top) & strict_roots(node.args[2], top)
        if spec.accepts_missing:
            return frozenset()
        first = 1 if spec.enum_arg == 0 else 0
        if first < len(node.args):
            return strict_roots(node.args[first], top)
    return frozenset()


# Functions whose result is never an object (whatever their arguments): the flat writer
# stores their value as it is, without the flatten/merge checks an object would need.
SCALAR_FUNCTIONS = frozenset({
    "to_int", "to_float", "to_number", "to_bool", "to_timestamp", "clean_ip", "ip_port",
    "enum_name", "enum_code", "exists", "is_null", "type_of",
})


def is_scalar(node: A.Node) -> bool:
    """True when ``node`` surely evaluates to something other than an object (or to MISSING)."""
    if isinstance(node, A.Literal):
        return node.value.__class__ is not dict
    if isinstance(node, (A.Unary, A.ListExpr)):
        return True
    if isinstance(node, A.Binary):
        if node.op == "??":
            return is_scalar(node.left) and is_scalar(node.right)
        return True  # comparisons and boolean operators give bools
    if isinstance(node, A.Call):
        if node.name in SCALAR_FUNCTIONS:
            return True
        if node.name == "when" and len(node.args) == 2:
            return is_scalar(node.args[1])
        if node.name == "if_else" and len(node.args) == 3:
            return is_scalar(node.args[1]) and is_scalar(node.args[2])
    return False


_CONST_CODES = {"True": True, "False": False, "None": None, "M": MISSING}


def const_value(code: str) -> tuple[bool, Any]:
    """(True, value) when generated ``code`` is a constant (a folded one, or a scalar literal),
    else (False, None)."""
    if code in _CONST_CODES:
        return True, _CONST_CODES[code]
    if code[:1] in _LITERAL_STARTS:  # the repr of a str, int or float literal
        try:
            value = ast.literal_eval(code)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            return False, None
        if value.__class__ in (str, int, float):
            return True, value
    return False, None


_LITERAL_STARTS = frozenset("'\"-0123456789")


class ExpressionCompiler:
    def __init__(self, ns: Namespace, enums: dict[str, EnumTable]):
        self.ns = ns
        self.enums = enums
        self._tmp = 0
        self._src: ExprSource | None = None
        self._present: frozenset = frozenset()
        self._shape: frozenset | None = None
        self._trees: dict[str, A.Node] = {}
        self._bound_names: dict[tuple[int, str], str] = {}
        self._dict_params: set[str] = set()  # lambda parameters known to hold a dict
        # Flat mode, set by the rule compiler around one rule's assignments: record fields
        # whose Name/Value list the rule decodes whole (kv_map) and also reads by name
        # (kv_get) -> the Python name holding the map built once (see kv_collections).
        self.kv_memo: dict[str, str] = {}
        self._root: A.Node | None = None

    def tree(self, src: ExprSource) -> A.Node | None:
        """The parsed tree of ``src`` (cached), or None if it does not parse (compile reports it)."""
        tree = self._trees.get(src.text)
        if tree is None:
            try:
                tree = self._trees[src.text] = parse(src.text)
            except ExpressionError:
                return None
        return tree

    def compile(self, src: ExprSource, variables: dict[str, str], guarded: bool = False,
                shape: frozenset | None = None) -> Compiled:
        """Compile ``src``; ``variables`` maps let names to the Python names holding them
        (or to constant code, for lets folded away).

        ``guarded``: the caller runs the code only when the record has every field in the
        result's ``strict_roots``, so those fields are read without a fallback.
        ``shape``: the code is only ever run on records whose top-level keys are exactly
        these, so top-level fields are read without a fallback, absent ones are MISSING
        and what that decides is folded into constants (``True``, ``False``, ``M``...)."""
        self._src = src
        tree = self._trees.get(src.text)
        if tree is None:
            try:
                tree = parse(src.text)
            except ExpressionError as exc:
                raise ExpressionError(self._locate(src, exc.diagnostic)) from None
            self._trees[src.text] = tree
        self._shape = shape
        self._root = tree
        self._present = shape if shape is not None else strict_roots(tree) if guarded else frozenset()
        out = Compiled(code="")
        try:
            out.code = self._emit(tree, out, variables, current="c", top=True)
        except ExpressionError as exc:
            raise ExpressionError(self._locate(src, exc.diagnostic)) from None
        finally:
            self._shape = None
        out.strict_roots = strict_roots(tree)
        out.scalar = is_scalar(tree)
        return out

    def strict_roots_of(self, src: ExprSource) -> frozenset:
        """``Compiled.strict_roots`` of an expression compiled before (its tree is kept)."""
        return strict_roots(self._trees[src.text])

    def compile_text(self, text: str, variables: dict[str, str] | None = None) -> Compiled:
        """Compile a bare expression (tests, examples, the REPL-like `explain`)."""
        from .yaml_source import MarkedDocument

        doc = MarkedDocument(path="<expr>", data=text, text=text)
        return self.compile(ExprSource(text, doc, ()), variables or {})

    # -- positions --------------------------------------------------------------------
    @staticmethod
    def _locate(src: ExprSource, diag: Diagnostic) -> Diagnostic:
        span = diag.span or Span("<expr>", 1, 1)
        if src.doc.path == "<expr>":
            return diag
        start = src.position(span.line, span.col)
        end = None
        if span.end_col:
            end = start.col + (span.end_col - span.col)
        return Diagnostic(diag.code, diag.message, Span(start.path, start.line, start.col, end), diag.hint)

    @staticmethod
    def _err(node: Any, code: str, message: str, hint: str | None = None) -> ExpressionError:
        pos = node.pos
        return ExpressionError(Diagnostic(code, message, Span("<expr>", pos.line, pos.col, pos.end_col), hint))

    def _temp(self) -> str:
        self._tmp += 1
        return f"_t{self._tmp}"

    # -- emission ---------------------------------------------------------------------
    def _emit(self, node: A.Node, out: Compiled, vars_: dict[str, str], current: str, top: bool) -> str:
        emit = lambda n: self._emit(n, out, vars_, current, top)  # noqa: E731
        if isinstance(node, A.Literal):
            return repr(node.value)
        if isinstance(node, A.Path):
            return self._path(node, out, vars_, current, top)
        if isinstance(node, A.Index):
            return f"_gi({emit(node.target)}, {emit(node.key)})"
        if isinstance(node, A.ListExpr):
            if not node.items:
                return "[]"
            if all(isinstance(i, A.Literal) for i in node.items):
                return self.ns.const([i.value for i in node.items])
            return f"_mklist(({', '.join(emit(i) for i in node.items)},))"
        if isinstance(node, A.ObjectExpr):
            if not node.items:
                return "{}"
            keys = self.ns.const(tuple(k for k, _ in node.items))
            values = ", ".join(emit(v) for _, v in node.items)
            return f"_mkobj({keys}, ({values},))"
        if isinstance(node, A.Unary):
            operand = emit(node.operand)
            known, value = const_value(operand) if self._shape is not None else (False, None)
            return repr(not value) if known else f"(not {operand})"
        if isinstance(node, A.Binary):
            return self._binary(node, emit)
        if isinstance(node, A.Call):
            return self._call(node, out, vars_, current, top)
        raise AssertionError(f"unknown node {node!r}")  # pragma: no cover

    def _path(self, node: A.Path, out: Compiled, vars_: dict[str, str], current: str, top: bool) -> str:
        if node.root == ".":
            base, known_dict = current, top or current in self._dict_params
        elif node.root == "$":
            base, known_dict = "r", True
        else:
            name = node.root[1:]
            if name not in vars_:
                raise self._err(node, "E117", f"unknown variable '${name}'", did_you_mean(name, vars_))
            base, known_dict = vars_[name], False
        if node.root in (".", "$") and (node.root == "$" or top):
            out.reads.append(("$", node.segments))
            if node.segments and isinstance(node.segments[0], str) and self._shape is None:
                pos = Diagnostic("W100", "", Span("<expr>", node.pos.line, node.pos.col, node.pos.end_col))
                out.field_reads.append((node.segments[0], self._locate(self._src, pos).span))
        else:
            out.reads.append((node.root, node.segments))
        code = base
        segments = node.segments
        if node.root in (".", "$") and (node.root == "$" or top) and segments and isinstance(segments[0], str):
            if segments[0] in self._present:
                code, segments = f"r[{segments[0]!r}]", segments[1:]  # the guard made sure it is there
                known_dict = False
            elif self._shape is not None:
                return "M"  # records of this shape do not have the field
        for seg in segments:
            if isinstance(seg, int):
                code = f"_gi({code}, {seg})"
            elif known_dict:
                code = f"{code}.get({seg!r}, M)"
            else:
                code = f"_gk({code}, {seg!r})"
            known_dict = False
        return code

    def _binary(self, node: A.Binary, emit) -> str:
        op = node.op
        if self._shape is not None:
            folded = self._fold_binary(node, emit)
            if folded is not None:
                return folded
        if op == "??":
            tmp = self._temp()
            return f"({tmp} if ({tmp} := {emit(node.left)}) is not M and {tmp} is not None else {emit(node.right)})"
        left, right = emit(node.left), emit(node.right)
        if op == "or":
            return f"(True if {left} or {right} else False)"
        if op == "and":
            return f"(True if {left} and {right} else False)"
        if op in ("==", "!="):
            return f"({left} {op} {right})"
        if op == "<":
            return f"_lt({left}, {right})"
        if op == "<=":
            return f"_le({left}, {right})"
        if op == ">":
            return f"_lt({right}, {left})"
        if op == ">=":
            return f"_le({right}, {left})"
        if op in ("in", "not in"):
            if isinstance(node.right, A.ListExpr) and all(
                isinstance(i, A.Literal) and i.value.__class__ in (str, int, float, bool, type(None)) for i in node.right.items
            ):
                right = self.ns.const(frozenset(i.value for i in node.right.items))
            test = f"_in({left}, {right})"
            return test if op == "in" else f"(not {test})"
        raise AssertionError(op)  # pragma: no cover

    def _fold_binary(self, node: A.Binary, emit) -> str | None:
        """Shape mode: an operator whose left side (or both sides) folded to a constant.
        Only what would not have been evaluated anyway is dropped (the right side after a
        deciding left side), so no call with an effect (a warning) disappears."""
        op = node.op
        if op not in ("??", "and", "or", "==", "!="):
            return None
        left = emit(node.left)
        known, value = const_value(left)
        if not known:
            if op in ("==", "!="):
                return f"({left} {op} {emit(node.right)})"
            return self._unfolded(node, left, emit)
        if op == "??":
            return emit(node.right) if value is MISSING or value is None else left
        if op in ("and", "or"):
            if (op == "and") != bool(value):
                return repr(bool(value))
            right = emit(node.right)
            known_right, right_value = const_value(right)
            return repr(bool(right_value)) if known_right else f"(True if {right} else False)"
        right = emit(node.right)
        known_right, right_value = const_value(right)
        if known_right:
            return repr((value == right_value) if op == "==" else (value != right_value))
        return f"({left} {op} {right})"

    def _unfolded(self, node: A.Binary, left: str, emit) -> str:
        """``node`` with its left side already emitted as ``left`` (same code as _binary)."""
        right = emit(node.right)
        if node.op == "??":
            tmp = self._temp()
            return f"({tmp} if ({tmp} := {left}) is not M and {tmp} is not None else {right})"
        if node.op == "or":
            return f"(True if {left} or {right} else False)"
        return f"(True if {left} and {right} else False)"

    def _call(self, node: A.Call, out: Compiled, vars_: dict[str, str], current: str, top: bool) -> str:
        spec = REGISTRY.get(node.name)
        if spec is None:
            raise self._err(node, "E105", f"unknown function '{node.name}'", did_you_mean(node.name, REGISTRY))
        n = len(node.args)
        if n < spec.min_args or (spec.max_args is not None and n > spec.max_args):
            raise self._err(node, "E106", f"{spec.name}() takes {spec.arity_text()} argument(s), got {n}")
        out.calls.add(spec.name)
        inline = self._inline(spec, node, out, vars_, current, top)
        if inline is not None:
            return inline
        args = [self._arg(spec, i, a, out, vars_, current, top) for i, a in enumerate(node.args)]
        if spec.takes_context:
            out.uses_context = True
            args.insert(0, "ctx")
        fn = self.ns.const(spec.impl, prefix="F")
        return f"{fn}({', '.join(args)})"

    def _inline(self, spec: FunctionSpec, node: A.Call, out: Compiled, vars_, current: str, top: bool) -> str | None:
        """Cheaper code for hot calls with the same meaning (tests run both through the examples)."""
        if self.kv_memo and spec.name in ("kv_map", "kv_get"):
            memo = self.kv_memo.get(_kv_field(node, top))
            if memo is not None and (spec.name == "kv_get" or node is self._root):  # the map is the value written
                value = self._emit(node.args[0], out, vars_, current, top)
                if value == "M":
                    return "M"  # both give MISSING for MISSING
                fn = self.ns.const(spec.impl, prefix="F")
                if spec.name == "kv_map":
                    # A well-formed list: the map _plain_kv builds (kv_map's own first step),
                    # kept in ``memo`` for the kv_get reads; anything else: the call as before.
                    out.uses_context = True
                    tmp = self._temp()
                    return (f"({memo} if ({tmp} := {value}).__class__ is list and ({memo} := _plainkv({tmp}, "
                            f"'Name', 'Value', ctx.options.collection_cap)) is not None else {fn}(ctx, {tmp}))")
                # In a well-formed list names are unique strings and every element has a Value:
                # the first element with that Name (kv_get's answer) is the map's entry.
                name = repr(node.args[1].value)
                return f"({memo}.get({name}, M) if {memo} is not None else {fn}({value}, {name}))"
        if spec.name == "exists" and len(node.args) == 1:
            arg = node.args[0]
            if isinstance(arg, A.Path) and len(arg.segments) == 1 and isinstance(arg.segments[0], str) \
                    and (arg.root == "$" or (arg.root == "." and top)):
                self._path(arg, out, vars_, current, top)  # records the read
                if self._shape is not None:
                    return repr(arg.segments[0] in self._shape)
                base = "r" if arg.root == "$" else current
                return f"({arg.segments[0]!r} in {base})"
            if isinstance(arg, (A.Literal, A.ListExpr, A.ObjectExpr)):
                return "True"  # a literal is never missing
            code = self._emit(arg, out, vars_, current, top)
            if self._shape is not None and code == "M":
                return "False"
            return f"({code} is not M)"
        if spec.name in ("when", "if_else") and len(node.args) == spec.min_args \
                and all(isinstance(a, (A.Literal, A.Path)) for a in node.args[1:]):
            # Eager arguments that are reads or literals cannot fail or warn: a conditional
            # expression gives the same value without the call.
            cond, *branches = (self._emit(a, out, vars_, current, top) for a in node.args)
            otherwise = branches[1] if len(branches) == 2 else "M"
            return f"({branches[0]} if {cond} else {otherwise})"
        if spec.name in _FAST_PATHS and len(node.args) == 1:
            value = self._emit(node.args[0], out, vars_, current, top)
            if value == "M":
                return "M"  # these give MISSING for MISSING
            tmp, found = self._temp(), self._temp()
            fn = self.ns.const(spec.impl, prefix="F")
            return _FAST_PATHS[spec.name].format(t=tmp, c=found, x=value, f=fn)
        if spec.name == "type_of" and len(node.args) == 1:
            value = self._emit(node.args[0], out, vars_, current, top)
            if value == "M":
                return "'missing'"
            tmp = self._temp()  # the exact classes JSON gives, by lookup; anything else through type_of
            return f"(_TYPES.get(({tmp} := {value}).__class__) or {self.ns.const(spec.impl, prefix='F')}({tmp}))"
        if spec.name == "map" and len(node.args) == 2:
            merged = _merge_idiom(node.args[1])
            if merged is not None:
                # map(L, if_else(type_of(.) == "object", merge(., {...}), .)): the object case
                # without the per-element calls; any other element takes the general lambda.
                items = self._emit(node.args[0], out, vars_, current, top)
                param = f"{current}_"
                self._dict_params.add(param)  # the fast lambda only ever sees plain objects
                try:
                    values = ", ".join(self._emit(v, out, vars_, current=param, top=False) for _, v in merged.items)
                finally:
                    self._dict_params.discard(param)
                general = self._arg(spec, 1, node.args[1], out, vars_, current, top)
                keys = self.ns.const(tuple(k for k, _ in merged.items))
                return f"_mapmerge({items}, {keys}, (lambda {param}: ({values},)), {general})"
        if spec.enum_arg == 0 and len(node.args) == 2 and spec.name in ("enum_name", "enum_code"):
            table_name = self._arg(spec, 0, node.args[0], out, vars_, current, top)  # checks the table name
            table = self.ns.values[table_name]
            method = "decode_name" if spec.name == "enum_name" else "decode_code"
            bound = self._bound(table, method)
            out.uses_context = True
            value = self._emit(node.args[1], out, vars_, current, top)
            if value == "M":
                return "M"  # both decoders give MISSING for MISSING, without a warning
            # The common cases inline: an int code, or a text decoded before (table.fast_*).
            tmp, found = self._temp(), self._temp()
            if method == "decode_code":
                codes = self.ns.const(table.fast_codes, prefix="C")
                return (f"({tmp} if ({tmp} := {value}).__class__ is int else {found} if {tmp}.__class__ is str "
                        f"and ({found} := {codes}.get({tmp})) is not None else {bound}(ctx, {tmp}))")
            names = self.ns.const(table.fast_names, prefix="C")
            return (f"({found} if ({tmp} := {value}).__class__ in _INTSTR "
                    f"and ({found} := {names}.get({tmp})) is not None else {bound}(ctx, {tmp}))")
        return None

    def _bound(self, table: EnumTable, method: str) -> str:
        """One namespace name per (table, decoder) bound method."""
        key = (id(table), method)
        name = self._bound_names.get(key)
        if name is None:
            name = self._bound_names[key] = self.ns.const(getattr(table, method), prefix="B")
        return name

    def _arg(self, spec: FunctionSpec, i: int, arg: A.Node, out: Compiled, vars_, current: str, top: bool) -> str:
        if spec.enum_arg == i:
            if not (isinstance(arg, A.Literal) and isinstance(arg.value, str)):
                raise self._err(arg, "E111", f"{spec.name}(): argument {i + 1} must be an enum table name in quotes")
            table = self.enums.get(arg.value)
            if table is None:
                raise self._err(arg, "E107", f"unknown enum table '{arg.value}'", did_you_mean(arg.value, self.enums))
            return self.ns.const(table, prefix="E")
        if i in spec.literal_args:
            if not isinstance(arg, A.Literal):
                raise self._err(arg, "E111", f"{spec.name}(): argument {i + 1} must be a literal")
            if spec.compile_literal is None:
                return repr(arg.value)
            try:
                value = spec.compile_literal(i, arg.value)
            except (ValueError, TypeError) as exc:
                raise self._err(arg, spec.literal_error_code, f"{spec.name}(): {exc}") from None
            return self.ns.const(value)
        if i in spec.lambda_args:
            param = f"{current}_"
            body = self._emit(arg, out, vars_, current=param, top=False)
            return f"(lambda {param}: {body})"
        return self._emit(arg, out, vars_, current, top)



# One-argument functions whose usual case is answered inline, the call kept for the rest:
# to_int and to_bool return a value of their own type as it is (to_bool also answers the usual
# exact texts from convert.BOOL_TEXTS); clean_ip looks a text up in its cache of answers
# given (network._CLEANED) first.
_FAST_PATHS = {
    "to_int": "({t} if ({t} := {x}).__class__ is int else {f}({t}))",
    "to_bool": "({t} if ({t} := {x}).__class__ is bool else {c} if {t}.__class__ is str "
               "and ({c} := _BOOLTEXT.get({t})) is not None else {f}({t}))",
    "clean_ip": "({c} if ({t} := {x}).__class__ is str and ({c} := _CLEANED.get({t})) is not None else {f}({t}))",
}


def _kv_field(node: A.Call, top: bool) -> str | None:
    """The record field F of ``kv_map(.F)`` / ``kv_get(.F, "name")`` (default Name/Value keys), else None."""
    if node.name == "kv_map" and len(node.args) != 1:
        return None
    if node.name == "kv_get" and not (len(node.args) == 2 and isinstance(node.args[1], A.Literal)
                                      and node.args[1].value.__class__ is str):
        return None
    arg = node.args[0]
    if isinstance(arg, A.Path) and (arg.root == "$" or (arg.root == "." and top)) \
            and len(arg.segments) == 1 and isinstance(arg.segments[0], str):
        return arg.segments[0]
    return None


def kv_collections(trees: list[A.Node]) -> list[str]:
    """Record fields that one rule's assignments (``trees``) both decode whole, as the value
    ``kv_map(.F)`` itself, and read by name with ``kv_get(.F, "name")``: in flat mode the map
    is built once per record and the reads use it (when the list is well formed)."""
    whole = {_kv_field(t, True) for t in trees if isinstance(t, A.Call) and t.name == "kv_map"}
    read = {_kv_field(n, True) for t in trees for n in A.walk(t) if isinstance(n, A.Call) and n.name == "kv_get"}
    return sorted(f for f in whole & read if f is not None)


def _merge_idiom(node: A.Node) -> A.ObjectExpr | None:
    """The object literal of ``if_else(type_of(.) == "object", merge(., {...}), .)``, else None."""
    def dot(n: A.Node) -> bool:
        return isinstance(n, A.Path) and n.root == "." and not n.segments

    if not (isinstance(node, A.Call) and node.name == "if_else" and len(node.args) == 3):
        return None
    cond, then, otherwise = node.args
    if not (isinstance(cond, A.Binary) and cond.op == "==" and isinstance(cond.left, A.Call)
            and cond.left.name == "type_of" and len(cond.left.args) == 1 and dot(cond.left.args[0])
            and isinstance(cond.right, A.Literal) and cond.right.value == "object"):
        return None
    if not (isinstance(then, A.Call) and then.name == "merge" and len(then.args) == 2 and dot(then.args[0])
            and isinstance(then.args[1], A.ObjectExpr) and then.args[1].items):
        return None
    return then.args[1] if dot(otherwise) else None


def base_namespace() -> dict[str, Any]:
    from . import runtime
    from .functions import collections, convert, network

    return {
        "M": MISSING,
        "_gk": runtime.get_key,
        "_gi": runtime.get_index,
        "_in": runtime.is_in,
        "_lt": runtime.less,
        "_le": runtime.less_eq,
        "_mkobj": runtime.make_object,
        "_mklist": runtime.make_list,
        "_put": runtime.put,
        "_fill": runtime.fill,
        "_attach": runtime.attach,
        "_keep_raw": runtime.keep_raw,
        "_fput": runtime.fput,
        "_fclear": runtime.fclear,
        "_ffill": runtime.ffill,
        "_ffill_one": runtime._ffill_one,
        "_fflat": runtime.fflat,
        "_fpass": runtime.fpass,
        "_NOTHING": frozenset(),
        "_fkeep_raw": runtime.fkeep_raw,
        "_fail": runtime.fail,
        "_mapmerge": runtime.map_merge,
        "_TYPES": runtime.TYPE_NAMES,
        "_INTSTR": (int, str),
        "_CLEANED": network._CLEANED,
        "_BOOLTEXT": convert.BOOL_TEXTS,
        "_plainkv": collections._plain_kv,
    }


def compile_standalone(text: str, enums: dict[str, EnumTable] | None = None):
    """Compile one bare expression into ``fn(record, ctx) -> value`` (tests, examples, REPL use).

    Raises ExpressionError for anything the rule compiler would reject.
    """
    ns = Namespace(base_namespace())
    compiled = ExpressionCompiler(ns, enums or {}).compile_text(text)
    source = f"def expression(r, ctx):\n    c = r\n    return {compiled.code}\n"
    exec(compile(source, "<expression>", "exec"), ns.values)  # noqa: S102 - our own generated source
    return ns.values["expression"]
