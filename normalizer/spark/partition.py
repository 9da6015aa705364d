"""The function to give ``rdd.mapPartitions``: raw NDJSON lines in, tagged output out.

    normalize = make_partition_normalizer(rules=["./my-rules"])
    tagged = sc.textFile("s3a://bucket/audit/*.ndjson").mapPartitions(normalize).cache()
    records(tagged).saveAsTextFile(out); rejects(tagged).saveAsTextFile(rej)

The callable pickles as its RuleConfig (a few KB); on an executor it fetches the rule set
from the per-process cache, so the rules compile once per Python worker, not per partition.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Iterable, Iterator

from ..context import DEFAULT_COLLECTION_CAP
from ..pipeline import Counts
from ..readers import LineBatch, parse_batch, read_records
from .executor_rules import ruleset_for
from .rule_config import RuleConfig
from .tagged import counts_pair, tag_items

BATCH_BYTES = 1 << 20  # NDJSON lines parsed together


class PartitionNormalizer:
    """Normalizes one partition; see ``make_partition_normalizer``."""

    def __init__(self, config: RuleConfig, *, nested: bool = False, source: str | None = None):
        self.config = config
        self.nested = nested
        self.source = source

    def __call__(self, lines: Iterable[str | bytes]) -> Iterator[tuple]:
        """For ``mapPartitions``: every element one NDJSON line. Rejects are numbered from the
        partition's first line, with ``source`` (default ``<spark partition N>``)."""
        return self.lines(lines, self.source or _partition_name(), 1)

    def lines(self, lines: Iterable[str | bytes], source: str, first_line: int) -> Iterator[tuple]:
        """Tagged output of NDJSON lines numbered from ``first_line``, then the counts.

        Read as the command line reads NDJSON: blank lines are skipped, a line may hold an
        array or an envelope, a line that is not a JSON object is a reject."""
        ruleset = ruleset_for(self.config)
        counts = Counts()
        read = _LineCount(lines)
        for batch in _batches(read, source, first_line):
            yield from tag_items(parse_batch(batch), source, ruleset, self.nested, counts)
        yield counts_pair(counts, read.count)

    def files(self, files: Iterable[tuple[str, bytes]]) -> Iterator[tuple]:
        """Tagged output of whole files given as (source, content), then the counts.

        Each file is read like the command line reads a file: NDJSON, a JSON array, an
        envelope or pretty-printed JSON, gzipped or not (recognized by content)."""
        ruleset = ruleset_for(self.config)
        counts = Counts()
        for source, content in files:
            yield from tag_items(read_records(io.BytesIO(content), source), source, ruleset, self.nested, counts)
        yield counts_pair(counts)


def make_partition_normalizer(rules: Iterable[str | Path] = (), *, builtin: bool = True, nested: bool = False,
                              collection_cap: int = DEFAULT_COLLECTION_CAP, source: str | None = None) -> PartitionNormalizer:
    """A picklable callable for ``rdd.mapPartitions`` over NDJSON lines (str or bytes).

    ``rules`` are overlay directories on the driver: they are read now and shipped with the
    callable. The rules are compiled here once, so that a rule error raises RuleLoadError on
    the driver before any job starts. Output: see ``normalizer.spark.tagged``."""
    config = RuleConfig.from_dirs(rules, builtin=builtin, collection_cap=collection_cap)
    ruleset_for(config)  # validates on the driver; raises RuleLoadError
    return PartitionNormalizer(config, nested=nested, source=source)


def _batches(lines: Iterable[str | bytes], source: str, first_line: int) -> Iterator[LineBatch]:
    """Lines joined into batches of about BATCH_BYTES, each knowing the number of its first line."""
    chunk: list[bytes] = []
    size = 0
    first = first_line
    for line in lines:
        if line.__class__ is str:
            line = line.encode("utf-8", "surrogatepass")  # a lone surrogate: invalid UTF-8, so a reject
        if line.endswith(b"\n"):
            line = line[:-1]
        chunk.append(line)
        size += len(line)
        if size >= BATCH_BYTES:
            yield LineBatch(source, first, b"\n".join(chunk) + b"\n")
            first += len(chunk)
            chunk, size = [], 0
    if chunk:
        yield LineBatch(source, first, b"\n".join(chunk) + b"\n")


class _LineCount:
    """An iterator over lines that counts them."""

    def __init__(self, lines: Iterable):
        self._lines = iter(lines)
        self.count = 0

    def __iter__(self):
        return self

    def __next__(self):
        line = next(self._lines)
        self.count += 1
        return line


def _partition_name() -> str:
    try:
        from pyspark import TaskContext
    except ImportError:  # called outside Spark
        return "<spark>"
    context = TaskContext.get()
    return f"<spark partition {context.partitionId()}>" if context is not None else "<spark>"
