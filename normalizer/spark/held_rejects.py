"""Both outputs of the job from one pass: Spark writes the records, the driver gathers the rejects.

Writing two outputs from one RDD would take caching the whole normalized output and sending it
through Python twice more (measured on 100,000 records: 5 s of JVM CPU instead of 2, beside the
4 s of the Python workers). Rejects are few, so
the task that writes a partition's records also hands that partition's rejects to the driver
through an accumulator, with its counts. Spark applies the accumulator updates of a result
task once, even when tasks are retried or speculated, so nothing is counted twice or lost.

A partition holds back at most its share of ``HELD_BYTES`` of rejects, so the driver's memory
stays bounded; a partition with more is marked overflowed, and a second pass normalizes only
the overflowed partitions again to write their rejects. Split NDJSON files number their
lines from 1 in each split; each partition reports its line count, and rejects are renumbered
once the counts of the splits before it are known.
"""

from __future__ import annotations

import orjson

from ..pipeline import Counts
from .job_input import JobInput
from .partition import PartitionNormalizer
from .tagged import COUNTS, RECORD, REJECT, add_counts

HELD_BYTES = 64 << 20  # rejects held for the driver, over all partitions
MIN_HELD_BYTES = 4096  # per partition


class ReportsParam:
    """Accumulator of partition reports: {partition index: (counts, held reject lines or None)}."""

    def zero(self, value: dict) -> dict:
        return {}

    def addInPlace(self, a: dict, b: dict) -> dict:  # noqa: N802 (pyspark's name)
        a.update(b)
        return a


class RecordsHoldingRejects:
    """``mapPartitionsWithIndex`` over a tagged RDD: yields the record lines; reports the
    partition's counts and rejects (None when over ``limit`` bytes) to ``accumulator``."""

    def __init__(self, accumulator, limit: int):
        self.accumulator, self.limit = accumulator, limit

    def __call__(self, index: int, tagged):
        held: list[bytes] | None = []
        size = 0
        counts = None
        for tag, payload in tagged:
            if tag == RECORD:
                yield payload
            elif tag == REJECT:
                if held is not None:
                    size += len(payload)
                    held.append(payload)
                    if size > self.limit:
                        held = None
            elif tag == COUNTS:
                counts = payload if counts is None else tuple(x + y for x, y in zip(counts, payload))
        self.accumulator.add({index: (counts or (0, 0, 0, 0, 0), held)})


class NormalizePass:
    """The first pass: every partition normalized, split files numbered from 1 in each split."""

    def __init__(self, normalizer: PartitionNormalizer):
        self.normalizer = normalizer

    def lines(self, index: int, source: str, lines):
        return self.normalizer.lines(lines, source, 1)

    def files(self, index: int, files):
        return self.normalizer.files(files)


class RejectsPass:
    """The second pass, run only when a partition overflowed: its rejects are normalized again
    (renumbered by ``offsets``); every other partition gives the rejects it held, and its input
    is read through without being normalized, so that Spark can reuse the Python worker."""

    def __init__(self, normalizer: PartitionNormalizer, overflowed: set[int], held, offsets: list[int]):
        self.normalizer, self.overflowed, self.held, self.offsets = normalizer, overflowed, held, offsets

    def lines(self, index: int, source: str, lines):
        if index in self.overflowed:
            return self._rejects(index, self.normalizer.lines(lines, source, 1))
        return self._held(index, lines)

    def files(self, index: int, files):
        if index in self.overflowed:
            return self._rejects(index, self.normalizer.files(files))
        return self._held(index, files)

    def _rejects(self, index: int, tagged):
        offset = self.offsets[index]
        return (renumber(payload, offset) for tag, payload in tagged if tag == REJECT)

    def _held(self, index: int, items):
        for _ in items:
            pass
        return iter(self.held.value.get(index, ()))


def held_limit(partitions: int) -> int:
    return max(MIN_HELD_BYTES, HELD_BYTES // max(partitions, 1))


def line_offsets(owners: list[int | None], lines: list[int]) -> list[int]:
    """Per partition, the lines of the same file in the partitions before it (0 for files read whole).

    ``owners``: the file index of each partition split by line (None: a partition of whole files)."""
    offsets, seen = [], {}
    for owner, count in zip(owners, lines):
        offset = 0 if owner is None else seen.get(owner, 0)
        if owner is not None:
            seen[owner] = offset + count
        offsets.append(offset)
    return offsets


def renumber(reject: bytes, offset: int) -> bytes:
    """A reject line with ``offset`` added to its line number."""
    if not offset:
        return reject
    doc = orjson.loads(reject)
    doc["line"] += offset
    return orjson.dumps(doc)


def total(reports: dict) -> Counts:
    counts = Counts()
    for values, _ in reports.values():
        add_counts(counts, values)
    return counts


class LostReports(RuntimeError):
    """A partition's report (counts and rejects) did not reach the driver."""


def write_both(sc, source: JobInput, normalizer: PartitionNormalizer, output: str, rejects_dir: str,
               codec: str | None = None) -> Counts:
    """Write the records under ``output`` and the rejects under ``rejects_dir``; the counts."""
    reports = sc.accumulator({}, ReportsParam())
    limit = held_limit(source.partitions)
    records = source.run(NormalizePass(normalizer)).mapPartitionsWithIndex(RecordsHoldingRejects(reports, limit))
    records.saveAsTextFile(output, codec)
    got = reports.value
    missing = sorted(set(range(source.partitions)) - set(got))
    if missing:  # cannot happen when the write succeeded; never write partial rejects silently
        raise LostReports(f"Spark returned no report for partitions {missing[:10]}; the rejects are incomplete")
    offsets = line_offsets(source.owners, [got[i][0][4] for i in range(source.partitions)])
    held = {i: [renumber(line, offsets[i]) for line in lines] for i, (_, lines) in got.items() if lines}
    overflowed = {i for i, (_, lines) in got.items() if lines is None}
    if overflowed:
        rejected = source.run(RejectsPass(normalizer, overflowed, sc.broadcast(held), offsets))
    else:
        rejected = sc.parallelize([line for i in sorted(held) for line in held[i]], 1)
    rejected.saveAsTextFile(rejects_dir, codec)
    return total(got)
