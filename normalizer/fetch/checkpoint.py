"""Progress per input and stream (audit content type, or message trace), saved atomically.

Layout: ``<last_value_storage>/<input id>/<stream>.json``.  A save writes a temporary file,
fsyncs it, renames it over the old one and fsyncs the directory, so a kill at any moment
leaves either the old or the new progress, never a torn file.

What is stored: the cursor (the end of the last window fully processed), the audit content
ids already emitted (pruned once they fall out of the listing overlap), the window of keys
emitted (``seen``), and, while a batch is being written to a file output, ``pending``: the
file offset where the batch starts and the digests of its records in write order.  After a
kill, counting the complete lines after that offset says exactly which of them made it to the
file, so they are not written twice (see ``outputs``).

A lock file per input directory keeps two fetchers from sharing the same progress.
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass, field
from hashlib import sha256
from pathlib import Path

from .seen import SeenWindow

VERSION = 1

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]


class CheckpointError(Exception):
    """Progress cannot be read or written: fatal, since going on could lose records."""


@dataclass
class StreamState:
    input_id: str
    stream: str
    cursor: int | None = None
    done: dict[str, int] = field(default_factory=dict)
    seen: SeenWindow = field(default_factory=lambda: SeenWindow(10000))
    pending: dict | None = None


def safe_name(name: str) -> str:
    clean = re.sub(r"[^A-Za-z0-9._-]", "_", name).lstrip(".") or "_"
    if clean != name:
        clean += "-" + sha256(name.encode("utf-8")).hexdigest()[:8]
    return clean


class CheckpointStore:
    def __init__(self, root: str, input_id: str):
        self.dir = Path(root) / safe_name(input_id)
        self.input_id = input_id
        self._lock_fd: int | None = None

    def open(self) -> None:
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CheckpointError(f"cannot create {self.dir}: {exc.strerror or exc}") from None
        if fcntl is not None:
            fd = os.open(self.dir / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                raise CheckpointError(f"{self.dir} is in use by another o365norm fetch (input {self.input_id})") from None
            self._lock_fd = fd

    def close(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def path(self, stream: str) -> Path:
        return self.dir / f"{safe_name(stream)}.json"

    def load(self, stream: str, max_seen: int) -> tuple[StreamState, str | None]:
        """The stored state (or a fresh one) and a warning to print, if any."""
        path = self.path(stream)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return StreamState(self.input_id, stream, seen=SeenWindow(max_seen)), None
        except OSError as exc:
            raise CheckpointError(f"cannot read {path}: {exc.strerror or exc}") from None
        try:
            doc = json.loads(raw)
            if not isinstance(doc, dict) or doc.get("version") != VERSION:
                raise ValueError("unknown format")
            state = StreamState(
                self.input_id, stream,
                cursor=int(doc["cursor"]) if doc.get("cursor") is not None else None,
                done={str(k): int(v) for k, v in (doc.get("done") or {}).items()},
                seen=SeenWindow(max_seen, ((str(h), int(t)) for h, t in doc.get("seen") or [])),
                pending=doc.get("pending") if isinstance(doc.get("pending"), dict) else None,
            )
            return state, None
        except (ValueError, KeyError, TypeError):
            keep = path.with_name(f"{path.name}.unreadable-{int(time.time())}")
            try:
                os.replace(path, keep)
            except OSError:
                pass
            return (StreamState(self.input_id, stream, seen=SeenWindow(max_seen)),
                    f"progress file {path} was unreadable (kept as {keep.name}); starting {stream} over from the first-run look-back")

    def save(self, state: StreamState) -> None:
        doc = {
            "version": VERSION,
            "input": state.input_id,
            "stream": state.stream,
            "cursor": state.cursor,
            "cursor_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(state.cursor)) if state.cursor is not None else None,
            "done": state.done,
            "seen": state.seen.to_json(),
            "pending": state.pending,
        }
        data = json.dumps(doc, separators=(",", ":")).encode("utf-8")
        path = self.path(state.stream)
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, path)
            dfd = os.open(self.dir, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
        except OSError as exc:
            raise CheckpointError(f"cannot save progress to {path}: {exc.strerror or exc}") from None
