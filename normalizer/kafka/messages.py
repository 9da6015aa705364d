"""From a Kafka message to records, and the keys and dead-letter documents of what is produced.

Collectors put one raw record in a message, or a whole content blob (a JSON array), an
OData / Graph page, or several NDJSON lines.  A message holding one JSON object takes the fast
path (one ``orjson.loads``); everything else goes through the same streaming reader as files,
so every shape the command line accepts is accepted here and anything unreadable becomes a
Reject with its line within the message.
"""

from __future__ import annotations

import hashlib
import io

import orjson

from ..fetch.seen import audit_key, trace_key
from ..readers import MAX_RAW, Item, Reject, read_records
from ..readers import _envelope_rows as envelope_rows


def source_label(topic: str, partition: int, offset: int) -> str:
    return f"{topic}[{partition}]@{offset}"


def items_of(value: bytes | None, source: str) -> list[Item]:
    """The records (and Rejects) carried by one message value, in order."""
    if value is None:
        return [Reject(source, 1, "message has no value (a tombstone)", "")]
    if not value.strip():
        return [Reject(source, 1, "message value is empty", value[:MAX_RAW].decode("utf-8", "replace"))]
    try:
        obj = orjson.loads(value)
    except orjson.JSONDecodeError:
        obj = None
    if obj.__class__ is dict and envelope_rows(obj) is None:
        return [(1, obj)]
    return list(read_records(io.BytesIO(value), source))


def record_key(record: dict) -> bytes:
    """A key that is the same each time this record is produced, so a re-delivered record lands
    on the same output partition as its first copy (and downstream can drop the copy).  The
    fetcher's keys, so both feed a topic alike: ``a:<audit Id>``, ``m:<trace id>|<recipient>``
    (lower case), else ``h:`` and a digest of the record."""
    key = audit_key(record) or trace_key(record)
    if key is not None:
        return key.encode("utf-8", "surrogatepass")
    canonical = orjson.dumps(record, option=orjson.OPT_SORT_KEYS, default=str)
    return b"h:" + hashlib.sha256(canonical).hexdigest().encode()


DEAD_LETTER_RAW = 256 * 1024  # characters of raw text kept: well under Kafka's default 1 MB message limit


def dead_letter(reject: Reject, topic: str, partition: int, offset: int) -> bytes:
    """The dead-letter document: the command line's reject fields plus where the message was
    (the message itself stays in its topic, at that offset, should more than the start be needed)."""
    raw = reject.raw[:DEAD_LETTER_RAW]
    doc = {"source": reject.source, "topic": topic, "partition": partition, "offset": offset,
           "line": reject.line, "reason": reject.reason, "raw": raw}
    if reject.raw_truncated or len(raw) < len(reject.raw):
        doc["raw_truncated"] = True
    return orjson.dumps(doc)
