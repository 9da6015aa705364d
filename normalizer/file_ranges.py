"""Byte ranges of whole lines in a plain NDJSON file, for --jobs workers to read themselves.

Sending a worker its input through a pipe costs the main process a read, a copy and a
write per byte, which on two cores was a good part of a core. For a regular, uncompressed
NDJSON file the main process only cuts the file into ranges of about 1 MiB that end after
a newline, counting the newlines as it goes (one C-level pass over each block, through one
reused buffer) so that every range knows the number of its first line; each worker then
opens the file by its path (inputs are opened one at a time, after the workers started) and
reads its ranges with ``os.pread``. The items a range gives are exactly those
``read_records`` gives for the same lines, line numbers included.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from typing import BinaryIO, Iterator

from .readers import BOM, Gunzip, Item, decompressing, is_regular_file, ndjson_items, sniff


@dataclass(frozen=True)
class FileRange:
    """Lines ``start`` to ``end`` (bytes) of the file at ``path``; the first is line ``first_line``."""

    source: str
    path: str
    start: int
    end: int
    first_line: int


def plain_ndjson_start(stream: BinaryIO) -> int | None:
    """Where the lines of ``stream`` start (0, or 3 past a byte-order mark) if it is a regular,
    uncompressed file read as NDJSON; None for anything else (a pipe, gzip, a JSON document),
    which the main process must read itself. The stream is left at its start either way."""
    if not is_regular_file(stream) or stream.tell() != 0:
        return None
    fd = stream.fileno()
    try:
        raw = decompressing(stream)
        if isinstance(raw, Gunzip):
            return None
        _, _, document = sniff(io.BufferedReader(raw))
        return None if document else (len(BOM) if os.pread(fd, len(BOM), 0) == BOM else 0)
    finally:
        stream.seek(0)


def file_ranges(source: str, path: str, fd: int, start: int, range_bytes: int = 1 << 20) -> Iterator[FileRange]:
    """Ranges of whole lines covering the file open as ``fd`` (and found at ``path``) from
    ``start`` to its end."""
    buf = bytearray(range_bytes)
    view = memoryview(buf)
    first, pos = 1, start
    while True:
        n = os.preadv(fd, [view], pos)
        if n == 0:
            return
        cut = buf.rfind(b"\n", 0, n) + 1
        end = pos + cut
        if cut == 0:  # no newline in the block: the range runs to the end of this (long) line
            end = _line_end(fd, pos + n, view)
        yield FileRange(source, path, pos, end, first)
        first += buf.count(b"\n", 0, cut) if cut else 1
        pos = end


def _line_end(fd: int, pos: int, view: memoryview) -> int:
    """The offset just past the next newline at or after ``pos`` (or the end of the file)."""
    while n := os.preadv(fd, [view], pos):
        at = view.obj.find(b"\n", 0, n)  # type: ignore[union-attr]
        if at >= 0:
            return pos + at + 1
        pos += n
    return pos


def range_items(r: FileRange) -> Iterator[Item]:
    """The records and Rejects of a range, numbered as in the whole file."""
    fd = _open(r.path)
    size = r.end - r.start
    data = os.pread(fd, size, r.start)
    while len(data) < size and (more := os.pread(fd, size - len(data), r.start + len(data))):
        data += more
    if data and not data.endswith(b"\n"):
        data += b"\n"  # the file's last line, without a newline of its own
    yield from ndjson_items(io.BytesIO(data), r.source, r.first_line)


_OPEN: dict[str, int] = {}  # the file this process reads ranges of: one at a time, like the inputs


def _open(path: str) -> int:
    fd = _OPEN.get(path)
    if fd is None:
        for old in _OPEN.values():
            os.close(old)
        _OPEN.clear()
        fd = _OPEN[path] = os.open(path, os.O_RDONLY)
    return fd
