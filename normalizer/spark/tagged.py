"""Tagged output: how one pass over the input yields both the records and the rejects.

A Spark RDD has one output, and the normalized records and the rejects must go to two
places without normalizing twice. So a partition yields pairs: ``(RECORD, line)`` for a
normalized record, ``(REJECT, line)`` for a reject, and one ``(COUNTS, (in, out, rejected,
with_warnings, lines))`` at its end (``lines``: input lines read, for line input). Lines are
the bytes the command line writes, without the newline (``saveAsTextFile`` adds it). Cache
the tagged RDD, then write ``records(tagged)`` and ``rejects(tagged)`` (the job does better:
see ``held_rejects``).
"""

from __future__ import annotations

from itertools import islice
from typing import Iterable, Iterator

from ..pipeline import Counts, normalize_items
from ..readers import Item
from ..ruleset import Ruleset

RECORD, REJECT, COUNTS = 0, 1, 2
CHUNK = 1000  # items normalized between two hand-overs to Spark: bounds what is held in memory


def tag_items(items: Iterable[Item], source: str, ruleset: Ruleset, nested: bool, counts: Counts) -> Iterator[tuple]:
    """``(RECORD, line)`` / ``(REJECT, line)`` for every item, in input order, adding to ``counts``.

    The normalizing is ``pipeline.normalize_items``, as in the command line: a Reject and a
    record the engine fails on both become rejects with their source and line."""
    pending: list[tuple[int, bytes]] = []

    def write(data: bytes) -> None:
        pending.append((RECORD, data[:-1]))

    def write_reject(data: bytes) -> None:
        pending.append((REJECT, data[:-1]))

    items = iter(items)
    while True:
        before = counts.records_in
        normalize_items(islice(items, CHUNK), source, ruleset, nested=nested, strict=False,
                        write=write, write_reject=write_reject, counts=counts)
        if counts.records_in == before:
            return
        yield from pending
        pending.clear()


def counts_pair(counts: Counts, lines: int = 0) -> tuple:
    return COUNTS, (counts.records_in, counts.records_out, counts.rejected, counts.with_warnings, lines)


def add_counts(counts: Counts, values: tuple) -> None:
    counts.add(Counts(*values[:4]))


def records(tagged):
    """The normalized lines of a tagged RDD."""
    return tagged.filter(_is_record).map(_payload)


def rejects(tagged):
    """The reject lines of a tagged RDD (JSON: source, line, reason, raw)."""
    return tagged.filter(_is_reject).map(_payload)


def total_counts(tagged) -> Counts:
    """Sum the counts of a tagged RDD (an action: cache the RDD first)."""
    counts = Counts()
    for values in tagged.filter(_is_counts).map(_payload).collect():
        add_counts(counts, values)
    return counts


def _is_record(pair: tuple) -> bool:
    return pair[0] == RECORD


def _is_reject(pair: tuple) -> bool:
    return pair[0] == REJECT


def _is_counts(pair: tuple) -> bool:
    return pair[0] == COUNTS


def _payload(pair: tuple):
    return pair[1]

