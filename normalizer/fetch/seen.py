"""Record keys, and the bounded window of keys already emitted.

Keys: an audit record is identified by its ``Id``; a message-trace row by its trace id plus
recipient (Graph repeats a message once per recipient; ``id``/``recipientAddress`` and the
legacy ``MessageTraceId``/``RecipientAddress`` give the same key, so switching ``api`` keeps
the window).  A record without an id is identified by its exact text.

The window stores a 96-bit digest of each key (not the key: smaller, and no addresses in the
progress files) with a time, and is bounded both by count and, for message trace, by time.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any, Iterable


def record_key(kind: str, record: Any, text: str) -> str:
    if isinstance(record, dict):
        key = audit_key(record) if kind == "audit" else trace_key(record)
        if key is not None:
            return key
    return "h:" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def audit_key(record: dict) -> str | None:
    """``a:<Id>`` (lower case), or None without a usable ``Id``."""
    rid = record.get("Id")
    return "a:" + rid.lower() if isinstance(rid, str) and rid else None


def trace_key(record: dict) -> str | None:
    """``m:<trace id>|<recipient>`` (lower case; Graph or legacy names), or None without an id."""
    tid = record.get("id", record.get("MessageTraceId"))
    if not (isinstance(tid, str) and tid):
        return None
    rcpt = record.get("recipientAddress", record.get("RecipientAddress"))
    return f"m:{tid.lower()}|{str(rcpt or '').lower()}"


def digest(key: str) -> str:
    return base64.urlsafe_b64encode(hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=12).digest()).decode("ascii")


class SeenWindow:
    """Digests of emitted keys, oldest first, each with a time (epoch seconds)."""

    def __init__(self, max_keys: int, items: Iterable[tuple[str, int]] = ()):
        self.max_keys = max_keys
        self._d: dict[str, int] = {}
        for h, t in items:
            self._d[h] = int(t)
        self._trim()

    def __contains__(self, key: str) -> bool:
        return digest(key) in self._d

    def __len__(self) -> int:
        return len(self._d)

    def add(self, key: str, t: float) -> None:
        self.add_digest(digest(key), t)

    def add_digest(self, h: str, t: float) -> None:
        self._d.pop(h, None)
        self._d[h] = int(t)
        self._trim()

    def prune_before(self, t: float) -> None:
        cut = int(t)
        for h in [h for h, ht in self._d.items() if ht < cut]:
            del self._d[h]

    def _trim(self) -> None:
        while len(self._d) > self.max_keys:
            del self._d[next(iter(self._d))]

    def to_json(self) -> list[list]:
        return [[h, t] for h, t in self._d.items()]
