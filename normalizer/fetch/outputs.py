"""Where records go: stdout, a file or a Kafka topic, normalized by the rules engine or raw.

Normalized records are written exactly as ``o365norm`` writes them (flat dotted keys, sorted,
one per line).  Raw records are the API's own text, one per line.  On Kafka each record is
one message (without the newline), keyed by the record's key (audit ``Id``, message-trace id
plus recipient), and ``flush`` returns only when the broker has acknowledged them all.

A file output is owned by the fetcher: on open, a last line without its newline (left by a
kill in the middle of a write) is cut off, since the progress never covered it and the record
will be fetched again.  ``lines_after(offset)`` counts the complete lines written since a
batch began, which is how a restart learns which records of an interrupted batch were written.
"""

from __future__ import annotations

import os
import sys
from typing import BinaryIO

import orjson

from ..pipeline import render
from ..readers import Reject
from .config import Output as OutputConfig
from .report import Reporter


class OutputError(Exception):
    """Records cannot be written: fatal (nothing sensible can be collected without an output)."""


class Output:
    def __init__(self, cfg: OutputConfig, ruleset, reporter: Reporter, stdout: BinaryIO | None = None):
        self.cfg = cfg
        self.id = cfg.id
        self.ruleset = ruleset if cfg.normalize else None
        self.reporter = reporter
        self._stdout = stdout
        self._f: BinaryIO | None = None

        self._kafka = None

    @property
    def is_file(self) -> bool:
        return self.cfg.kind == "File"

    @property
    def path(self) -> str | None:
        return self.cfg.path

    def describe(self) -> str:
        what = "normalized" if self.cfg.normalize else "raw"
        if self.cfg.kafka is not None:
            return f"Kafka topic {self.cfg.kafka.topic} at {self.cfg.kafka.bootstrap_servers} ({what})"
        return f"{self.cfg.path} ({what})" if self.is_file else f"stdout ({what})"

    def open(self) -> None:
        if self.cfg.kafka is not None:
            from ..kafka import KafkaUnavailable
            from ..kafka.sink import KafkaSink, SinkError
            k = self.cfg.kafka
            try:
                self._kafka = KafkaSink(k.bootstrap_servers, k.topic, k.properties)
            except (KafkaUnavailable, SinkError) as exc:
                raise OutputError(f"output {self.id}: {exc}") from None
            return
        if not self.is_file:
            self._f = self._stdout if self._stdout is not None else sys.stdout.buffer
            return
        path = self.cfg.path
        try:
            os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
            self._repair_tail(path)
            self._f = open(path, "ab")
        except OSError as exc:
            raise OutputError(f"output {self.id}: cannot open {path}: {exc.strerror or exc}") from None

    def _repair_tail(self, path: str) -> None:
        try:
            size = os.path.getsize(path)
        except FileNotFoundError:
            return
        if size == 0:
            return
        with open(path, "rb+") as f:
            pos = size
            keep = 0
            while pos > 0:
                step = min(1 << 16, pos)
                pos -= step
                f.seek(pos)
                chunk = f.read(step)
                nl = chunk.rfind(b"\n")
                if nl >= 0:
                    keep = pos + nl + 1
                    break
            if keep != size:
                f.truncate(keep)
                f.flush()
                os.fsync(f.fileno())
                self.reporter.warn(f"output {self.id}: removed an incomplete last line ({size - keep} bytes) of {path} "
                                   "left by an interrupted run; its record will be fetched again")

    def render(self, records: list[tuple[str, object, str]], source: str) -> list[tuple[str, bytes]]:
        """(key, line) for each record that can be written; the others are reported as rejected."""
        out: list[tuple[str, bytes]] = []
        if self.ruleset is None:
            for key, _, text in records:
                out.append((key, text.encode("utf-8", "surrogatepass") + b"\n"))
            return out
        normalize = self.ruleset.normalize_flat
        for key, record, text in records:
            data, _ = render(normalize, record, source, 0, False)
            if data.__class__ is Reject:  # an engine bug must not lose the record silently
                reject = {"source": source, "reason": data.reason, "raw": text[:1 << 20]}
                self.reporter.error(orjson.dumps(reject).decode("utf-8"))
            else:
                out.append((key, data))
        return out

    def position(self) -> int | None:
        if not self.is_file or self._f is None:
            return None
        return self._f.tell()

    def write(self, lines: list[bytes], keys: list[str] | None = None) -> None:
        """Write the lines; ``keys`` (one per line) key the messages on Kafka."""
        if not lines:
            return
        if self._kafka is not None:
            keys = keys or [None] * len(lines)
            self._kafka.send((k.encode("utf-8", "surrogatepass") if k else None, line.rstrip(b"\n"))
                             for k, line in zip(keys, lines))
            return
        try:
            self._f.write(b"".join(lines))
        except (OSError, ValueError) as exc:
            raise OutputError(f"output {self.id}: write failed: {getattr(exc, 'strerror', None) or exc}") from None

    def flush(self) -> None:
        """Records reach the OS (for a file, the disk; for Kafka, the broker's acknowledgement)
        before the progress covering them is saved."""
        if self._kafka is not None:
            from ..kafka.sink import SinkError
            try:
                self._kafka.flush()
            except SinkError as exc:
                raise OutputError(f"output {self.id}: {exc}") from None
            return
        try:
            self._f.flush()
            if self.is_file:
                os.fsync(self._f.fileno())
        except (OSError, ValueError) as exc:
            raise OutputError(f"output {self.id}: flush failed: {getattr(exc, 'strerror', None) or exc}") from None

    def lines_after(self, offset: int) -> int:
        """Complete lines in the file from ``offset`` on (0 if the file is now shorter: rotated)."""
        if not self.is_file:
            return 0
        try:
            with open(self.cfg.path, "rb") as f:
                f.seek(0, os.SEEK_END)
                if f.tell() < offset:
                    return 0
                f.seek(offset)
                n = 0
                while True:
                    chunk = f.read(1 << 20)
                    if not chunk:
                        return n
                    n += chunk.count(b"\n")
        except OSError:
            return 0

    def close(self) -> None:
        if self._kafka is not None:
            self._kafka.close()
            self._kafka = None
        if self._f is None:
            return
        try:
            self._f.flush()
        except (OSError, ValueError):
            pass
        if self.is_file:
            self._f.close()
        self._f = None
