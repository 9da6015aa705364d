"""The job's input files as one RDD of raw partitions, read whole or split by line.

Whole files (the default): ``sc.binaryFiles`` hands each file's bytes to one task, which
reads them with the command line's own reader, so every input shape works as it does there
(NDJSON, JSON arrays, envelopes, pretty-printed JSON, gzip recognized by content, corrupt
input rejected with its line). A file is the unit of parallelism, and it must fit in an
executor's memory (and under the JVM's 2 GB array limit).

Split by line (``--split-lines``): files named ``.ndjson`` or ``.jsonl`` are read with
``sc.textFile``, which cuts large files into splits read in parallel; every other file is
still read whole. Each split numbers its lines from 1 (``held_rejects`` renumbers the
rejects). Before anything runs, the driver reads the first bytes of each such file and
refuses one that starts like pretty-printed JSON or gzip data.

The raw RDD is built once; each pass over it (normalizing, and rarely a second one for
rejects) is a ``Work`` object called per partition with the partition's index.
"""

from __future__ import annotations

from typing import Iterator, Protocol

import orjson

from .inputs import InputError, InputFile, escape, read_head

SPLIT_SUFFIXES = (".ndjson", ".jsonl")
HEAD_BYTES = 1 << 16  # read from each file to be split, to check that it is NDJSON


class Work(Protocol):
    """What a pass does with a partition of lines (split files) or of whole files."""

    def lines(self, index: int, source: str, lines: Iterator[bytes]) -> Iterator: ...

    def files(self, index: int, files: Iterator[tuple[str, bytes]]) -> Iterator: ...


class JobInput:
    """The raw partitions: first the splits of the files split by line, then the whole files."""

    def __init__(self, raw, split_sources: list[str], owners: list[int | None], names):
        self.raw = raw
        self.split_sources = split_sources  # per split partition: the file's source name
        self.owners = owners  # per partition: index of the split file it belongs to, None for whole files
        self.names = names  # broadcast {uri: source} of the files read whole

    def run(self, work: Work):
        return self.raw.mapPartitionsWithIndex(_Pass(work, self.split_sources, self.names))

    @property
    def partitions(self) -> int:
        return len(self.owners)


def job_input(sc, files: list[InputFile], *, split: bool, partitions: int | None = None) -> JobInput:
    """Build the input RDD (no Spark job runs). Raises InputError."""
    by_line = [f for f in files if f.uri.endswith(SPLIT_SUFFIXES)] if split else []
    whole = [f for f in files if not (split and f.uri.endswith(SPLIT_SUFFIXES))]
    for f in by_line:
        problem = _not_ndjson(read_head(sc, f.uri, HEAD_BYTES))
        if problem:
            raise InputError(f"{f.source} starts with {problem}, not an NDJSON line: run without "
                             "--split-lines, or rename it (only .ndjson and .jsonl files are split by line)")
    parts, split_sources, owners = [], [], []
    for n, f in enumerate(by_line):
        text = sc.textFile(escape(f.uri), partitions, use_unicode=False) if partitions else \
            sc.textFile(escape(f.uri), use_unicode=False)
        parts.append(text)
        split_sources += [f.source] * text.getNumPartitions()
        owners += [n] * text.getNumPartitions()
    names = sc.broadcast({f.uri: f.source for f in whole})
    if whole or not parts:
        raw = _whole_files(sc, whole, partitions)
        parts.append(raw)
        owners += [None] * raw.getNumPartitions()
    return JobInput(parts[0] if len(parts) == 1 else sc.union(parts), split_sources, owners, names)


def _whole_files(sc, files: list[InputFile], partitions: int | None):
    if not files:
        return sc.parallelize([], 1)
    bad = next((f.source for f in files if "," in f.uri), None)
    if bad:  # binaryFiles takes a comma-separated list
        raise InputError(f"cannot read input {bad}: Spark cannot read file names containing ','; rename it")
    return sc.binaryFiles(",".join(escape(f.uri) for f in files), minPartitions=partitions or sc.defaultParallelism)


class _Pass:
    def __init__(self, work: Work, split_sources: list[str], names):
        self.work, self.split_sources, self.names = work, split_sources, names

    def __call__(self, index: int, items: Iterator):
        if index < len(self.split_sources):
            return self.work.lines(index, self.split_sources[index], items)
        names = self.names.value
        return self.work.files(index, ((names.get(uri, uri), content) for uri, content in items))


def _not_ndjson(head: bytes) -> str | None:
    """gzip data, or a first line that begins pretty-printed JSON (a lone bracket, an open array)."""
    if head.startswith(b"\x1f\x8b"):
        return "gzip data"
    head = head[3:] if head.startswith(b"\xef\xbb\xbf") else head
    for line in head.splitlines(keepends=True):
        text = line.strip(b" \t\r\n")
        if not text:
            continue
        if not line.endswith(b"\n") and len(head) >= HEAD_BYTES:
            return None  # a first line longer than what was read: cannot tell, take it as NDJSON
        if text in (b"[", b"{") or (text.startswith(b"[") and not _parses(text)):
            return "a JSON document spread over lines"
        return None
    return None


def _parses(text: bytes) -> bool:
    try:
        orjson.loads(text)
        return True
    except orjson.JSONDecodeError:
        return False
