"""The MISSING sentinel: an absent field, distinct from JSON ``null`` (None).

Path reads on absent keys yield MISSING, functions pass it through, and assigning
MISSING to a target writes nothing. Keeping it distinct from None is what lets a
rule tell "the field was not sent" from "the field was sent as null".
"""

from __future__ import annotations


class _Missing:
    __slots__ = ()
    _instance: "_Missing | None" = None

    def __new__(cls) -> "_Missing":
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False

    def __reduce__(self):
        return (_Missing, ())


MISSING = _Missing()
