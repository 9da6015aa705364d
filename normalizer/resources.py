"""Where the built-in rules and schemas live: inside the wheel, or beside the package in a checkout."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import orjson

_PACKAGE = Path(__file__).resolve().parent


def _data_dir(name: str) -> Path:
    installed = _PACKAGE / "_data" / name
    if installed.is_dir():
        return installed
    return _PACKAGE.parent / name


def builtin_rules_dir() -> Path:
    return _data_dir("rules")


def schemas_dir() -> Path:
    return _data_dir("schemas")


@lru_cache(maxsize=None)
def load_schema(name: str) -> dict:
    """A JSON Schema from schemas/, parsed once per process."""
    return orjson.loads((schemas_dir() / name).read_bytes())
