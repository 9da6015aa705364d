"""The function registry: one place where every rule function is declared.

Each function is registered next to its implementation with its arity, a one-line
doc and examples. The examples are run by the test suite through the real
expression compiler and feed the function table in the README, so the docs
cannot drift from the behaviour.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from ..missing import MISSING


@dataclass(frozen=True)
class Raises:
    """Expected outcome of an example that fails at runtime with this code."""

    code: str


@dataclass(frozen=True)
class Example:
    """``expr`` evaluated against ``record`` gives ``result`` (a value, MISSING or Raises).

    ``warnings`` lists the warning codes the evaluation must record, in order.
    """

    expr: str
    record: dict
    result: Any
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    impl: Callable[..., Any]
    min_args: int
    max_args: int | None  # None: variadic
    doc: str
    examples: tuple[Example, ...]
    takes_context: bool = False  # impl(ctx, *args): may warn via ctx.warn()
    accepts_missing: bool = False  # impl handles MISSING itself (exists, coalesce)
    literal_args: tuple[int, ...] = ()  # argument positions that must be literals
    compile_literal: Callable[[int, Any], Any] | None = None  # pre-compiles literal args; raises ValueError
    category: str = "misc"
    literal_error_code: str = "E114"  # diagnostic code when compile_literal rejects an argument
    lambda_args: tuple[int, ...] = ()  # argument positions compiled as per-element expressions (map)
    enum_arg: int | None = None  # argument position naming an enum table (compile-time lookup)

    def arity_text(self) -> str:
        if self.max_args is None:
            return f"at least {self.min_args}"
        if self.min_args == self.max_args:
            return str(self.min_args)
        return f"{self.min_args} to {self.max_args}"


REGISTRY: dict[str, FunctionSpec] = {}


def register(
    name: str,
    *,
    args: int | tuple[int, int | None],
    doc: str,
    examples: list[Example],
    takes_context: bool = False,
    accepts_missing: bool = False,
    literal_args: tuple[int, ...] = (),
    compile_literal: Callable[[int, Any], Any] | None = None,
    category: str = "misc",
    literal_error_code: str = "E114",
    lambda_args: tuple[int, ...] = (),
    enum_arg: int | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: declare a rule function. ``args`` is an exact count or (min, max|None).

    Unless ``accepts_missing`` is set, the implementation must itself return
    MISSING when its first argument is MISSING (the test suite checks this).
    """

    lo, hi = (args, args) if isinstance(args, int) else args

    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        if name in REGISTRY:
            raise RuntimeError(f"function {name!r} registered twice")
        if not examples:
            raise RuntimeError(f"function {name!r} needs at least one example")
        REGISTRY[name] = FunctionSpec(
            name=name,
            impl=fn,
            min_args=lo,
            max_args=hi,
            doc=doc,
            examples=tuple(examples),
            takes_context=takes_context,
            accepts_missing=accepts_missing,
            literal_args=literal_args,
            compile_literal=compile_literal,
            category=category,
            literal_error_code=literal_error_code,
            lambda_args=lambda_args,
            enum_arg=enum_arg,
        )
        return fn

    return deco


__all__ = ["Example", "FunctionSpec", "MISSING", "REGISTRY", "Raises", "register"]
