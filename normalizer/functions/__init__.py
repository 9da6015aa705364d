"""Rule functions. Importing this package registers every builtin in REGISTRY."""

from .registry import REGISTRY, Example, FunctionSpec, Raises, register

# Each module registers its functions on import.
from . import collections, convert, higher_order, logic, network, text, time  # noqa: E402,F401

__all__ = ["REGISTRY", "Example", "FunctionSpec", "Raises", "register"]
