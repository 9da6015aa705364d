"""Parse expression text into the syntax tree (expr_ast) with lark's LALR parser.

The parser is built once per process from ``grammar.lark``. Errors become an
``ExpressionError`` whose position is relative to the expression text; the caller
maps it into the rule file.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path as FilePath

import orjson
from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken, VisitError

from . import expr_ast as A
from .diagnostics import Diagnostic, ExpressionError, Span

_GRAMMAR = FilePath(__file__).with_name("grammar.lark")

_TOKEN_NAMES = {
    "RPAR": "')'", "LPAR": "'('", "RSQB": "']'", "LSQB": "'['", "LBRACE": "'{'", "RBRACE": "'}'",
    "COMMA": "','", "COLON": "':'", "DOT": "'.'", "COMP_OP": "a comparison", "STRING": "a string",
    "NUMBER": "a number", "PATH_HEAD": "a path", "FIELD": "a field name", "FUNC": "a function call",
    "VAR": "a variable", "ROOT": "'$'", "$END": "end of expression", "__ANON_0": "'??'",
}


@lru_cache(maxsize=1)
def _parser() -> Lark:
    return Lark(_GRAMMAR.read_text(encoding="utf-8"), parser="lalr", propagate_positions=True, maybe_placeholders=True)


def _pos(meta_or_token) -> A.Pos:
    if isinstance(meta_or_token, Token):
        return A.Pos(meta_or_token.line, meta_or_token.column, meta_or_token.end_column)
    meta = meta_or_token
    if getattr(meta, "empty", False):
        return A.Pos(1, 1)
    end = meta.end_column if meta.end_line == meta.line else None
    return A.Pos(meta.line, meta.column, end)


def _decode_string(token: Token) -> str:
    text = str(token)
    if text.startswith('"'):
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise _error(token, "E104", f"invalid escape in string literal ({exc})") from None
    body = text[1:-1]
    return body.replace("\\'", "'").replace("\\\\", "\\")


def _error(token: Token, code: str, message: str) -> ExpressionError:
    span = Span("<expr>", token.line, token.column, token.end_column)
    return ExpressionError(Diagnostic(code, message, span))


@v_args(meta=True)
class _ToAst(Transformer):
    def path(self, meta, children):
        (tok,) = children
        name = str(tok)[1:]
        return A.Path(".", (name,) if name else (), _pos(tok))

    def root(self, meta, children):
        return A.Path("$", (), _pos(children[0]))

    def var(self, meta, children):
        return A.Path(str(children[0]), (), _pos(children[0]))

    def string(self, meta, children):
        return A.Literal(_decode_string(children[0]), _pos(children[0]))

    def number(self, meta, children):
        text = str(children[0])
        value = float(text) if any(c in text for c in ".eE") else int(text)
        return A.Literal(value, _pos(children[0]))

    def true(self, meta, children):
        return A.Literal(True, _pos(meta))

    def false(self, meta, children):
        return A.Literal(False, _pos(meta))

    def null(self, meta, children):
        return A.Literal(None, _pos(meta))

    def list(self, meta, children):
        items = tuple(c for c in children if c is not None)
        return A.ListExpr(items, _pos(meta))

    def pair(self, meta, children):
        key, value = children
        key_text = _decode_string(key) if str(key)[:1] in "\"'" else str(key)
        return (key_text, value)

    def object(self, meta, children):
        items = tuple(c for c in children if c is not None)
        return A.ObjectExpr(items, _pos(meta))

    def call(self, meta, children):
        name_tok, *args = children
        return A.Call(str(name_tok), tuple(a for a in args if a is not None), _pos(name_tok))

    def attr(self, meta, children):
        target, field = children
        if isinstance(target, A.Path):
            return A.Path(target.root, target.segments + (str(field),), target.pos)
        return A.Index(target, A.Literal(str(field), _pos(field)), _pos(meta))

    def index(self, meta, children):
        target, key = children
        if isinstance(target, A.Path) and isinstance(key, A.Literal) and type(key.value) in (str, int):
            return A.Path(target.root, target.segments + (key.value,), target.pos)
        return A.Index(target, key, _pos(meta))

    def fallback(self, meta, children):
        return A.Binary("??", children[0], children[1], _pos(meta))

    def or_(self, meta, children):
        return A.Binary("or", children[0], children[1], _pos(meta))

    def and_(self, meta, children):
        return A.Binary("and", children[0], children[1], _pos(meta))

    def not_(self, meta, children):
        return A.Unary("not", children[0], _pos(meta))

    def compare(self, meta, children):
        left, op, right = children
        return A.Binary(str(op), left, right, _pos(op))

    def in_(self, meta, children):
        return A.Binary("in", children[0], children[1], _pos(meta))

    def not_in(self, meta, children):
        return A.Binary("not in", children[0], children[1], _pos(meta))


_TRANSFORMER = _ToAst()


@lru_cache(maxsize=4096)  # rule sets repeat expressions; the trees are immutable
def parse(text: str) -> A.Node:
    """Parse one expression. Raises ExpressionError (E104) with a position inside ``text``."""
    if not text.strip():
        raise ExpressionError(Diagnostic("E104", "empty expression", Span("<expr>", 1, 1)))
    try:
        tree = _parser().parse(text)
        return _TRANSFORMER.transform(tree)
    except VisitError as exc:
        if isinstance(exc.orig_exc, ExpressionError):
            raise exc.orig_exc from None
        raise
    except UnexpectedInput as exc:
        raise ExpressionError(_syntax_diagnostic(text, exc)) from None


def _syntax_diagnostic(text: str, exc: UnexpectedInput) -> Diagnostic:
    line, col = exc.line, exc.column
    if isinstance(exc, UnexpectedCharacters):
        char = text.splitlines()[line - 1][col - 1] if line >= 1 else "?"
        message = f"unexpected character {char!r}"
    elif isinstance(exc, UnexpectedEOF) or (isinstance(exc, UnexpectedToken) and exc.token.type == "$END"):
        lines = text.rstrip().splitlines() or [""]
        line, col = len(lines), len(lines[-1]) + 1
        message = "unexpected end of expression"
    elif isinstance(exc, UnexpectedToken):
        message = f"unexpected {exc.token.value!r}" if exc.token.value else f"unexpected {exc.token.type}"
    else:  # pragma: no cover - lark has no other subclasses today
        message = str(exc).splitlines()[0]
    expected = sorted({_TOKEN_NAMES.get(t, repr(t.lower()) if t.isupper() else t) for t in (exc.expected or ())}) \
        if isinstance(exc, UnexpectedToken) else []
    hint = None
    if expected and len(expected) <= 6:
        hint = "expected " + ", ".join(expected)
    return Diagnostic("E104", f"syntax error: {message}", Span("<expr>", max(line, 1), max(col, 1)), hint=hint)
