"""Streaming readers for raw Microsoft 365 audit records and message-trace rows.

Why streaming: o365norm runs as a stdin-to-stdout filter over audit dumps that can be
many GB, often piped and gzipped, so nothing here may hold the whole input.  NDJSON is
read a line at a time; a JSON document (a top-level array, or a Microsoft Graph / OData
envelope around one) is scanned in fixed-size chunks and each element is parsed with
orjson as soon as its closing bracket has been seen.  Documents may follow one another
(``cat page1.json page2.json``); anything else after a document is rejected up to the
next line that starts with '[' or '{', where reading resumes.

A document that never balances (cut short, or a '[' followed by NDJSON lines) would
otherwise hold everything to the end of the input and hide every record after it.  So a
record, or the unparsed part of a top-level object, may not exceed ``MAX_RECORD_BYTES``:
a larger one is rejected and reading resumes at the next line starting with '[' or '{'.
And a record still open when such a line holds a whole JSON value of its own, which the
record could not go on into, is taken as cut off there: reading resumes at that line.
Memory stays bounded by one chunk plus MAX_RECORD_BYTES (or the longest NDJSON line),
whatever the size of the input.

Bad data never raises: every malformed line or element becomes a ``Reject`` carrying its
source, line and text, and reading goes on after it.  Only I/O errors propagate.
"""

from __future__ import annotations

import gzip
import io
import os
import re
import stat
import sys
import zlib
from dataclasses import dataclass
from typing import BinaryIO, Callable, Iterable, Iterator, NamedTuple, Union

import orjson

CHUNK_SIZE = 1 << 20  # bytes read at a time (tests shrink it to put boundaries anywhere)
MAX_RAW = 1 << 20  # cap on the offending text kept in a Reject
MAX_RECORD_BYTES = 64 * 1024 * 1024  # largest record (document mode) before it is skipped
_MAX_PREFIX_CHECKS = 8  # per record: parses of the record so far made by ``_Document.breaks_off``
_PEEK_LINES = 4  # non-blank lines looked at after a '{' first line that does not parse
_GZIP_MAGIC = b"\x1f\x8b"
BOM = b"\xef\xbb\xbf"
_WS = b" \t\r\n"
_TYPE_NAMES = {int: "number", float: "number", str: "string", list: "list", bool: "bool", type(None): "null"}

_NON_WS = re.compile(rb"[^ \t\r\n]")
_TOKEN = re.compile(rb'[\[\]{},"]')
_STRING_BODY = re.compile(rb'[^"\\]*(?:\\.[^"\\]*)*', re.S)
_AFTER_ELEMENT = re.compile(rb"[ \t\r\n]*[,\]}]")
_RESYNC = re.compile(rb"\n[\[{]")  # a line starting with '[' or '{': where reading resumes after junk


def _container_pattern(depth: int) -> re.Pattern[bytes]:
    """A regex matching one bracket-balanced JSON container nested at most ``depth`` deep.

    It finds where an element ends in one C-level call.  Brackets are counted, not
    paired (orjson validates every element afterwards); deeper or incomplete elements
    fall back to ``_Document.scan``, which resumes across chunks."""
    q = b"*+" if sys.version_info >= (3, 11) else b"*"  # possessive: same matches, faster
    string = rb'"[^"\\]' + q + rb'(?:\\.[^"\\]' + q + b")" + q + b'"'
    flat = rb'[^"\[\]{}]' + q + b"(?:" + string + rb'[^"\[\]{}]' + q + b")" + q
    body = rb"[\[{]" + flat + rb"[\]}]"
    for _ in range(depth - 1):
        body = rb"[\[{]" + flat + b"(?:" + body + flat + b")" + q + rb"[\]}]"
    return re.compile(body, re.S)


_CONTAINER = _container_pattern(12)


class _Cut(Exception):
    """The value being scanned is cut off by the fresh record starting at ``at``."""

    def __init__(self, at: int):
        super().__init__(at)
        self.at = at


class _Oversized(Exception):
    """The value being scanned is larger than MAX_RECORD_BYTES."""


def _json_prefix(text: bytes) -> bool:
    """Whether ``text`` is JSON or the beginning of some: orjson fails only at its very end
    (reported as a line and a character column, hence the decoding of the last line)."""
    try:
        orjson.loads(text)
        return True
    except orjson.JSONDecodeError as exc:
        last_line = text[text.rfind(b"\n") + 1 :].decode("utf-8", "replace")
        return exc.lineno == text.count(b"\n") + 1 and exc.colno > len(last_line)


def _size(n: int) -> str:
    return f"{n >> 20} MiB" if n % (1 << 20) == 0 else f"{n} bytes"


@dataclass(frozen=True)
class Reject:
    """Input that is not a readable JSON object record; reading goes on after it."""

    source: str  # file path as given, or "<stdin>"
    line: int  # 1-based line (in the decompressed input) where the bad record starts
    reason: str
    raw: str  # the offending text, capped at MAX_RAW bytes
    raw_truncated: bool = False

    def to_json_bytes(self) -> bytes:
        doc = {"source": self.source, "line": self.line, "reason": self.reason, "raw": self.raw}
        if self.raw_truncated:
            doc["raw_truncated"] = True
        return orjson.dumps(doc)


class RawRecord(NamedTuple):
    """A document's record, checked to be a JSON object but passed on as its text: for
    --jobs, bytes travel to a worker far more cheaply than parsed objects."""

    line: int
    raw: bytes


Item = Union[tuple[int, dict], Reject]


def open_input(path: str) -> BinaryIO:
    """Open ``path`` for binary reading ("-" is standard input); OSError names the path."""
    return sys.stdin.buffer if path == "-" else open(path, "rb")


def read_records(stream: BinaryIO, source: str, before_read: Callable[[], object] | None = None) -> Iterator[Item]:
    """Yield (line, record) for every JSON object record, or a Reject, in input order.

    From a pipe, a record comes as soon as its line has arrived (reads take what the pipe
    has); ``before_read`` is called before each read of ``stream``, which may wait: the
    command flushes its output there, so a quiet input never holds records back."""
    return _read(stream, source, ndjson_items, before_read)


def _read(stream: BinaryIO, source: str, lines_reader, before_read: Callable[[], object] | None = None,
          keep_raw: bool = False) -> Iterator:
    """Decompress, sniff the shape, read a document or hand the lines to ``lines_reader``."""
    raw = decompressing(stream, before_read)
    f = io.BufferedReader(raw, CHUNK_SIZE)
    head, start, document = sniff(f)
    if document:
        last_line = yield from _Document(f, head, source, keep_raw).read(start)
    else:
        last_line = yield from lines_reader(io.BufferedReader(_Prefixed(head, f), CHUNK_SIZE), source)
    if getattr(raw, "error", None):
        yield _reject(source, last_line, raw.error, b"")


@dataclass(frozen=True)
class LineBatch:
    """Raw NDJSON lines not parsed yet, so that worker processes can parse them (--jobs)."""

    source: str
    first_line: int
    data: bytes


def read_batches(stream: BinaryIO, source: str, batch_bytes: int = 1 << 20) -> Iterator[Item | LineBatch | RawRecord]:
    """Like ``read_records``, but NDJSON input comes as ``LineBatch`` objects of about
    ``batch_bytes`` (whole lines), to be parsed elsewhere with ``parse_batch``; the records
    of documents (arrays, envelopes) come as ``RawRecord``s (see ``parsed``), with their
    Rejects, in input order."""
    return _read(stream, source, lambda f, src: _line_batches(f, src, batch_bytes), keep_raw=True)


def parsed(items: Iterable[Item | RawRecord]) -> Iterator[Item]:
    """Items with every RawRecord parsed (it was checked to be a JSON object already)."""
    for item in items:
        yield (item.line, orjson.loads(item.raw)) if item.__class__ is RawRecord else item


def parse_batch(batch: LineBatch) -> Iterator[Item]:
    """The records and Rejects of one batch, numbered as in the whole input."""
    yield from ndjson_items(io.BytesIO(batch.data), batch.source, batch.first_line)


def _line_batches(f: BinaryIO, source: str, batch_bytes: int) -> Iterator[LineBatch]:
    """Whole lines in blocks of about ``batch_bytes``, cut after the last newline of each
    block: no per-line work here, so the main process of --jobs stays nearly idle."""
    first, pending = 1, []  # pending: the start of a line not ended yet
    while block := f.read(batch_bytes):
        cut = block.rfind(b"\n") + 1
        if cut == 0:  # no line ends in this block (a long line): keep it for later
            pending.append(block)
            continue
        head = block if cut == len(block) else block[:cut]
        batch = b"".join(pending) + head if pending else head
        pending = [block[cut:]] if cut < len(block) else []
        yield LineBatch(source, first, batch)
        first += batch.count(b"\n")
    if pending:  # a last line without a newline
        yield LineBatch(source, first, b"".join(pending) + b"\n")
        first += 1
    return max(first - 1, 1)


class _Readable(io.RawIOBase):
    def readable(self) -> bool:
        return True


class _Prefixed(_Readable):
    """Raw stream replaying ``head`` before the rest of ``rest``: peeking without seeking.

    A regular file is read straight into the caller's buffer. Anything else (a pipe) is
    read with ``read1``, which returns what has arrived instead of waiting for a full
    buffer; not ``readinto1``, which in CPython waits for more input when it already holds
    some and the caller's buffer is larger than its own."""

    def __init__(self, head: bytes, rest: BinaryIO, before_read: Callable[[], object] | None = None):
        self._head, self._rest, self._before_read = memoryview(head), rest, before_read
        self._read_into = rest.readinto if is_regular_file(rest) and hasattr(rest, "readinto") else None
        self._read_rest = getattr(rest, "read1", None) or rest.read

    def readinto(self, b) -> int:
        if self._head:
            data, self._head = self._head[: len(b)], self._head[len(b) :]
        else:
            if self._before_read is not None:
                self._before_read()
            if self._read_into is not None:
                return self._read_into(b) or 0
            data = self._read_rest(len(b)) or b""
        b[: len(data)] = data
        return len(data)


def is_regular_file(stream: BinaryIO) -> bool:
    """A file on disk (it never makes a reader wait), not a pipe, terminal or socket."""
    try:
        return stat.S_ISREG(os.fstat(stream.fileno()).st_mode)
    except (OSError, AttributeError, ValueError, io.UnsupportedOperation):
        return False


class Gunzip(_Readable):
    """Decompressed gzip data; corrupt or truncated data ends the stream and sets ``error``."""

    def __init__(self, raw: io.RawIOBase):
        self._gz = gzip.GzipFile(fileobj=raw, mode="rb")
        self.error: str | None = None

    def readinto(self, b) -> int:
        if self.error:
            return 0
        try:
            data = self._gz.read1(len(b))  # one step at a time: keep what precedes an error
        except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
            self.error = f"corrupt gzip data: {exc}"
            return 0
        b[: len(data)] = data
        return len(data)


def decompressing(stream: BinaryIO, before_read: Callable[[], object] | None = None) -> io.RawIOBase:
    """Wrap ``stream``, gunzipping it when it starts with the gzip magic bytes."""
    magic = b""
    while len(magic) < 2 and (more := stream.read(2 - len(magic))):
        magic += more
    raw = _Prefixed(magic, stream, before_read)
    return Gunzip(raw) if magic == _GZIP_MAGIC else raw


def sniff(f: BinaryIO) -> tuple[bytes, int, bool]:
    """Read past a BOM to the first non-blank byte: (bytes read, its index, document mode?).

    '[' starts a document, and so does '{' unless its first line alone is JSON.  When
    that first line does not parse, the input may still be NDJSON whose first record is
    damaged, so the next ``_PEEK_LINES`` non-blank lines are looked at (they stay in the
    returned bytes): see ``_peek_verdict``."""
    head = b""  # read1: what has arrived, so that a live pipe is not waited on for a full chunk
    while len(head) < len(BOM) and (more := f.read1(CHUNK_SIZE)):
        head += more
    head = head[3:] if head.startswith(BOM) else head
    while (m := _NON_WS.search(head)) is None:
        more = f.read1(CHUNK_SIZE)
        if not more:
            return head, len(head), False
        head += more
    start = m.start()
    if head[start] != ord("{"):
        return head, start, head[start] == ord("[")
    head, end = _whole_line(f, head, start)
    try:
        orjson.loads(head[start:end])
        return head, start, False
    except orjson.JSONDecodeError:
        pass
    peeked = 0
    while peeked < _PEEK_LINES and end < len(head):
        pos = end + 1
        head, end = _whole_line(f, head, pos)
        if not head[pos:end].strip(_WS):
            continue
        peeked += 1
        verdict = _peek_verdict(head[start:end], head[pos:end])
        if verdict is not None:
            return head, start, verdict
    return head, start, True


def _peek_verdict(text: bytes, line: bytes) -> bool | None:
    """Document mode (True), NDJSON (False) or undecided (None), given ``text``: the input
    from its first line (which does not parse alone) to ``line``, the last peeked line.

    A multi-line document is valid JSON from its first line on: each further line keeps
    ``text`` the beginning of a value (orjson fails only at its very end) until the line
    that completes it.  A pretty-printed document may well hold lines that parse on their
    own (a compact row ``{"a": 1}``, a last list item ``"x"``), so those prove nothing.
    NDJSON with a damaged first line breaks that: once ``text`` cannot begin a document,
    a line that is a JSON object or array on its own is the next record."""
    doc = text.decode("utf-8", "replace")  # orjson reports character positions
    try:
        orjson.loads(doc)
        return True  # a complete multi-line document (perhaps followed by others)
    except orjson.JSONDecodeError as exc:
        if exc.pos >= len(doc):
            return None  # still the beginning of one document
    try:
        return False if type(orjson.loads(line)) in (dict, list) else None
    except orjson.JSONDecodeError:
        return None


def _whole_line(f: BinaryIO, head: bytes, pos: int) -> tuple[bytes, int]:
    """``head`` extended (if need be) so that the line starting at ``pos`` is complete,
    and the index of its newline (``len(head)`` for a last line without one)."""
    end = head.find(b"\n", pos)
    if end < 0:
        head += f.readline()
        end = head.find(b"\n", pos)
    return head, end if end >= 0 else len(head)


def ndjson_items(f: BinaryIO, source: str, first: int = 1) -> Iterator[Item]:
    """NDJSON mode: one JSON value per line.  Returns the number of the last line."""
    number = first
    for number, line in enumerate(f, first):
        if line[0] in _WS and not line.strip(_WS):
            continue
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            yield _reject(source, number, f"invalid JSON: {exc.msg}", line.rstrip(b"\r\n"))
            continue
        if type(value) is dict:
            rows = _envelope_rows(value)
            if rows is None:
                yield number, value
                continue
        else:
            rows = value if type(value) is list else [value]
        for row in rows:
            if type(row) is dict:
                yield number, row
            else:
                raw = line.strip(_WS) if row is value else orjson.dumps(row)
                yield _not_object(source, number, row, raw)
    return number


def _envelope_rows(obj: dict) -> list | None:
    """The rows of a Graph ({"value": [...], "@odata.*": ...}) or OData v2 ({"d": ...}) envelope."""
    rows = obj.get("value")
    if type(rows) is list and all(key.startswith("@odata") for key in obj if key != "value"):
        return rows
    rows = obj.get("d") if len(obj) == 1 else None
    if type(rows) is dict:
        rows = rows.get("results")
    return rows if type(rows) is list else None


def _reject(source: str, line: int, reason: str, raw: bytes) -> Reject:
    return Reject(source, line, reason, raw[:MAX_RAW].decode("utf-8", "replace"), len(raw) > MAX_RAW)


def _not_object(source: str, line: int, value: object, raw: bytes) -> Reject:
    kind = _TYPE_NAMES.get(type(value), type(value).__name__)
    return _reject(source, line, f"record is not a JSON object (got {kind})", raw)


class _Document:
    """Document mode: one JSON document scanned chunk by chunk.

    Positions are absolute offsets in the decompressed input.  ``buf`` holds the input
    from offset ``off`` on and ``mark`` is the earliest position still needed: reading a
    chunk drops what lies before it, so only the element being scanned is retained.

    The value scanned from ``mark`` on (an element, or a top-level object) is checked by
    ``guard`` whenever more input is needed and when its end is found; it raises
    ``_Oversized`` or ``_Cut``, which ``read`` turns into a reject and a resync."""

    def __init__(self, f: BinaryIO, head: bytes, source: str, keep_raw: bool = False):
        self.f, self.buf, self.source, self.keep_raw = f, head, source, keep_raw
        self.off = self.mark = self.counted = self.checked = self.prefix_checks = 0
        self.lines = 1  # the line number at position ``counted``
        self.watched: tuple[int, bytes] | None = None  # see ``begin``

    def more(self) -> bool:
        """Append the next chunk (growing with the retained part, up to the size limit);
        False at end of input."""
        self.guard(self.end())
        keep = self.mark - self.off
        kept = len(self.buf) - keep
        chunk = self.f.read(max(CHUNK_SIZE, min(kept, MAX_RECORD_BYTES + 1 - kept)))
        if not chunk:
            self.guard(self.end(), eof=True)
            return False
        if self.counted < self.mark:
            self.line(self.mark)  # count the newlines about to be dropped
        self.buf, self.off = self.buf[keep:] + chunk, self.mark
        return True

    def begin(self, pos: int, prefix: bytes = b"") -> None:
        """Start scanning a value at ``pos`` that may be cut off (see ``find_cut``); for
        the prefix check, ``prefix`` makes the text from ``pos`` on the start of a value."""
        self.mark = self.checked = pos
        self.watched, self.prefix_checks = (pos, prefix), 0

    def guard(self, stop: int, eof: bool = False) -> None:
        """Check the value begun at ``mark``, scanned up to ``stop`` (the end of the buffer,
        or the ',' or bracket after the value): raise _Cut if a line cuts it off (only
        while it is the value ``begin`` started), or _Oversized if it exceeds the limit.

        The outcome does not depend on the chunk sizes: only lines within the first
        MAX_RECORD_BYTES bytes of a value can cut it off, and while its end is not in the
        buffer, the value is at least as long as the buffer."""
        limit = self.mark + MAX_RECORD_BYTES
        if self.watched is not None and self.watched[0] == self.mark:
            self.find_cut(min(stop, limit), eof and stop <= limit)
        if stop > limit:
            raise _Oversized

    def find_cut(self, stop: int, last_line_whole: bool) -> None:
        """Raise _Cut at the first line after ``mark``, wholly before ``stop``, that starts
        with '[' or '{' and cuts off the value (``breaks_off``).  Each line is looked at
        once; a line not yet whole (unless ``last_line_whole``) is left for the next call."""
        pos = max(self.checked, self.mark)
        while m := _RESYNC.search(self.buf, pos - self.off, stop - self.off):
            line = m.start() + 1 + self.off
            end = self.buf.find(b"\n", line - self.off, stop - self.off)
            if end < 0 and not last_line_whole:
                pos = line - 1
                break
            end = stop if end < 0 else end + self.off
            if self.breaks_off(line, end):
                raise _Cut(line)
            pos = end
        else:
            pos = max(pos, stop - 1)  # a '\n' ending the buffer may be followed by '[' or '{'
        self.checked = pos

    def breaks_off(self, a: int, b: int) -> bool:
        """Whether the line from ``a`` to ``b`` cuts off the value at ``mark``: it is a
        whole JSON value on its own, like a fresh NDJSON record or content blob, and the
        value up to it can no longer be valid JSON.  The second test keeps whole the valid
        documents whose nested lines are not indented (``"List": [\\n{}\\n]``); it parses
        the value so far, so it is made only a few times per value."""
        try:
            orjson.loads(self.text(a, b))
        except orjson.JSONDecodeError:
            return False
        if self.prefix_checks == _MAX_PREFIX_CHECKS:
            return False  # the value has looked valid so often that it may well be
        self.prefix_checks += 1
        return not _json_prefix(self.watched[1] + self.text(self.mark, b))

    def line(self, pos: int) -> int:
        """The 1-based line of ``pos``, counted incrementally from the previous call."""
        a, b = self.counted - self.off, pos - self.off
        self.lines += self.buf.count(b"\n", a, b) if a <= b else -self.buf.count(b"\n", b, a)
        self.counted = pos
        return self.lines

    def text(self, a: int, b: int) -> bytes:
        return self.buf[a - self.off : b - self.off]

    def byte(self, pos: int) -> int:
        return self.buf[pos - self.off]

    def end(self) -> int:
        return self.off + len(self.buf)

    def skip_ws(self, pos: int) -> int | None:
        """Position of the first non-whitespace byte from ``pos``; None at end of input."""
        while (m := _NON_WS.search(self.buf, pos - self.off)) is None:
            if self.mark == pos:
                self.mark = self.end()  # nothing but whitespace is needed: drop it
            pos = self.end()
            if not self.more():
                return None
        return m.start() + self.off

    def string_end(self, pos: int) -> int | None:
        """Position after the string whose opening quote is at ``pos``; None at end of input."""
        pos += 1
        while True:
            stop = _STRING_BODY.match(self.buf, pos - self.off).end()
            if stop < len(self.buf) and self.buf[stop] == 0x22:  # else a chunk ends in it
                return self.off + stop + 1
            pos = self.off + stop  # resume at a split escape, if any
            if not self.more():
                return None

    def scan(self, pos: int, commas: bool) -> int | None:
        """Position of the first unmatched closing bracket (or ',' if ``commas``) at depth 0."""
        depth = 0
        while True:
            m = _TOKEN.search(self.buf, pos - self.off)
            if m is None:
                pos = self.end()
                if not self.more():
                    return None
                continue
            pos, c = m.start() + self.off, self.buf[m.start()]
            if c == 0x22:
                pos = self.string_end(pos)
                if pos is None:
                    return None
                continue
            if c in b"[{":
                depth += 1
            elif c in b"]}":
                if depth == 0:
                    self.guard(pos)
                    return pos
                depth -= 1
            elif commas and depth == 0:
                self.guard(pos)
                return pos
            pos += 1

    def element_end(self, pos: int) -> int | None:
        """Position of the ',' or closing bracket ending the element at ``pos``."""
        m = _CONTAINER.match(self.buf, pos - self.off)
        if m and (after := _AFTER_ELEMENT.match(self.buf, m.end())):
            end = after.end() - 1 + self.off
            if end - self.mark > MAX_RECORD_BYTES:
                self.guard(end)  # raises
            return end  # no cut is looked for in a valid value: see ``elements``
        return self.scan(pos, commas=True)

    def reject(self, pos: int, reason: str, raw: bytes) -> Reject:
        return _reject(self.source, self.line(pos), reason, raw)

    def record(self, pos: int, raw: bytes) -> Item:
        if not raw:
            return self.reject(pos, "invalid JSON: missing array element", raw)
        line = self.line(pos)
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            return _reject(self.source, line, f"invalid JSON: {exc.msg}", raw)
        if type(value) is not dict:
            return _not_object(self.source, line, value, raw)
        return RawRecord(line, raw) if self.keep_raw else (line, value)

    def truncated(self, stop: int | None = None) -> Reject:
        """Reject everything from ``mark`` to ``stop`` (by default the end of input)."""
        raw = self.text(self.mark, self.end() if stop is None else stop)
        lead = len(raw) - len(raw.lstrip(_WS))
        return self.reject(self.mark + lead, "truncated JSON document", raw.strip(_WS))

    def unfinished(self, stop: int) -> Iterator[Item]:
        """The document cut off at ``stop`` (the end of input, or the newline before a line
        that cut it off): yield the value begun at ``mark`` if it is whole, as when only a
        closing ']' is missing, and reject the rest as truncated."""
        raw = self.text(self.mark, stop)
        start = self.mark + len(raw) - len(raw.lstrip(_WS))
        item = self.record(start, raw.strip(_WS)) if start < stop else None
        if item is not None and type(item) is not Reject:
            yield item
            self.mark = stop
        yield self.truncated(stop)

    def read(self, pos: int) -> Iterator[Item]:
        """Yield the records of the document starting at ``pos``, and of every document
        concatenated after it; return the last line.  A document cut off by a fresh
        record, or holding a record over the size limit, ends there (see ``guard``)."""
        while pos is not None:
            try:
                end = yield from self.document(pos)
            except _Cut as cut:
                self.watched = None
                yield from self.unfinished(cut.at - 1)
                pos = cut.at
                continue
            except _Oversized:
                self.watched = None
                pos = yield from self.oversized()
                continue
            if end is None:  # truncated: the reject took the rest of the input
                break
            pos = yield from self.next_document(end)
        return self.line(self.end())

    def document(self, pos: int) -> Iterator[Item]:
        """Yield the records of the document at ``pos``; return the position after it, or
        None if it is truncated."""
        if self.byte(pos) == ord("["):
            return (yield from self.elements(pos))
        return (yield from self.envelope_or_object(pos))

    def elements(self, pos: int) -> Iterator[Item]:
        """Yield the elements of the array opened at ``pos``; return the position after it."""
        self.mark = pos + 1
        pos = self.skip_ws(pos + 1)
        if pos is not None and self.byte(pos) == ord("]"):
            return pos + 1
        while pos is not None:
            self.begin(pos)
            end = self.element_end(pos)
            if end is None:  # end of input: keep the last element if it is whole
                yield from self.unfinished(self.end())
                return None
            item = self.record(pos, self.text(pos, end).rstrip(_WS))
            if type(item) is Reject:
                self.guard(end)  # only invalid JSON can be cut off: every prefix of JSON is valid
            yield item
            if self.byte(end) != ord(","):
                return end + 1
            self.mark = end + 1
            pos = self.skip_ws(end + 1)
        yield self.truncated()
        return None

    def envelope_or_object(self, pos: int) -> Iterator[Item]:
        """Stream the rows of an envelope at ``pos``, or yield the object as one record."""
        self.begin(pos)
        rows = self.rows_start(pos)
        if rows is None:
            end = self.scan(pos + 1, commas=False)
            yield self.truncated() if end is None else self.record(pos, self.text(pos, end + 1))
            return None if end is None else end + 1
        end = yield from self.elements(rows[0])
        for allowed in rows[1]:
            if end is None:
                break
            end = yield from self.tail(end, allowed)
        return end

    def rows_start(self, pos: int) -> tuple[int, tuple[tuple[str, ...], ...]] | None:
        """For an envelope at ``pos``: the position of its rows' '[' and, per enclosing
        object, the key prefixes allowed after the rows (see ``_envelope_rows``)."""
        hit = self.find_member(pos, ("value", "d"))
        if hit and hit[0] == "d" and self.byte(hit[1]) == ord("{"):
            hit, closing, tails = self.find_member(hit[1], ("results",)), b"[]}}", (("",), ())
        elif hit:
            closing, tails = b"[]}", (("@odata",),) if hit[0] == "value" else ((),)
        if not hit or self.byte(hit[1]) != ord("["):
            return None
        try:  # the members before the rows must make an envelope with empty rows
            skeleton = orjson.loads(self.text(pos, hit[1]) + closing)
        except orjson.JSONDecodeError:
            return None
        return (hit[1], tails) if _envelope_rows(skeleton) is not None else None

    def find_member(self, pos: int, names: tuple[str, ...]) -> tuple[str, int] | None:
        """(key, value position) of the first member of the object at ``pos`` whose key is
        in ``names``; None if there is none or the object is malformed."""
        while True:
            key_at = self.skip_ws(pos + 1)
            if key_at is None or self.byte(key_at) != ord('"'):
                return None
            key_end = self.string_end(key_at)
            colon = None if key_end is None else self.skip_ws(key_end)
            value_at = None if colon is None or self.byte(colon) != ord(":") else self.skip_ws(colon + 1)
            if value_at is None:
                return None
            try:
                key = orjson.loads(self.text(key_at, key_end))
            except orjson.JSONDecodeError:
                return None
            if key in names:
                return key, value_at
            pos = self.element_end(value_at)
            if pos is None or self.byte(pos) != ord(","):
                return None

    def tail(self, pos: int, allowed: tuple[str, ...]) -> Iterator[Item]:
        """Check the members after the rows up to the '}' closing their object."""
        self.begin(pos, b'{"":0')  # what follows the rows goes on an object's first member
        end = self.scan(pos, commas=False)
        if end is None:
            yield self.truncated()
            return None
        raw = self.text(pos, end).strip(_WS)
        try:
            extra = [key for key in orjson.loads(b'{"":0' + raw + b"}") if key and not key.startswith(allowed)]
            reason = "unexpected member in envelope: " + ", ".join(extra) if extra else ""
        except orjson.JSONDecodeError as exc:
            reason = f"invalid JSON: {exc.msg}"
        if reason:
            yield self.reject(self.skip_ws(pos), reason, raw)
        return end + 1

    def next_document(self, pos: int) -> Iterator[Item]:
        """Position of the next document after the one ending at ``pos``, or None at the
        end of input.  What follows a document is another one if it starts with '[' or
        '{'; anything else is rejected up to the next line starting with '[' or '{'."""
        self.mark = pos
        pos = self.skip_ws(pos)
        if pos is None or self.byte(pos) in b"[{":
            return pos
        line, raw = self.line(pos), bytearray()
        stop = self.resync(pos, raw)
        yield _reject(self.source, line, "unexpected data after the JSON document", bytes(raw).rstrip(_WS))
        return stop

    def oversized(self) -> Iterator[Item]:
        """Reject the value at ``mark``, larger than MAX_RECORD_BYTES, and return the next
        line starting with '[' or '{' after its first MAX_RECORD_BYTES bytes (None at the
        end of input): the value may never end, and what is inside it is no record."""
        limit = self.mark + MAX_RECORD_BYTES  # the buffer holds the value up to there
        m = _NON_WS.search(self.buf, self.mark - self.off, limit - self.off)
        start = limit if m is None else m.start() + self.off
        line, raw = self.line(start), bytearray()
        self.keep(raw, start, limit)
        stop = self.resync(limit, raw)
        reason = f"record larger than {_size(MAX_RECORD_BYTES)} (limit); skipped"
        yield _reject(self.source, line, reason, bytes(raw).rstrip(_WS))
        return stop

    def resync(self, pos: int, raw: bytearray) -> int | None:
        """The start of the next line from ``pos`` that starts with '[' or '{' (None at the
        end of input), appending the input skipped to ``raw`` (see ``keep``)."""
        while (m := _RESYNC.search(self.buf, pos - self.off)) is None:
            stop = max(pos, self.end() - 1)  # keep a last "\n": a '[' or '{' may follow
            self.keep(raw, pos, stop)
            pos = self.mark = stop  # drop the input already seen: memory stays bounded
            if not self.more():
                self.keep(raw, pos, self.end())
                return None
        stop = m.start() + 1 + self.off
        self.keep(raw, pos, stop)
        return stop

    def keep(self, raw: bytearray, a: int, b: int) -> None:
        """Append the input from ``a`` to ``b`` to ``raw``, up to one byte over MAX_RAW."""
        room = MAX_RAW + 1 - len(raw)
        if room > 0:
            raw += self.buf[a - self.off : min(b, a + room) - self.off]
