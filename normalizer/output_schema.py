"""Validate normalized records against their stream's output schema (schemas/o365.*.schema.json).

Used by the golden tests, the property tests and ``o365norm rules test``: every output
the engine produces must satisfy the documented contract.
"""

from __future__ import annotations

from typing import Callable

from jsonschema import Draft202012Validator, FormatChecker

from .resources import load_schema
from .ruleset import Ruleset


def output_validator(ruleset: Ruleset) -> Callable[[dict], list[str]]:
    """A function: flat output record -> list of problems (empty when valid)."""
    checkers = []
    for stream in ruleset.compiled.streams:
        name = stream.definition.schema
        if name:
            validator = Draft202012Validator(load_schema(name), format_checker=FormatChecker())
            checkers.append((stream.definition.passthrough + ".", name, validator))

    def validate(record: dict) -> list[str]:
        for prefix, name, validator in checkers:
            if any(key.startswith(prefix) for key in record):
                return [f"{name}: {'.'.join(map(str, e.absolute_path)) or '(record)'}: {e.message}" for e in validator.iter_errors(record)]
        return []

    return validate
