"""What the audit and message-trace sources share: progress per stream, and the batch commit.

The commit is the heart of the delivery guarantee.  For each batch (an audit content blob, a
message-trace page): drop the records already in the seen window, render the rest, then, as
one step that a shutdown request cannot split:

1. for a file output, save ``pending`` (the file offset and the batch's record digests);
2. write the records and flush them (fsync for a file);
3. add their keys to the seen window, mark the blob done, clear ``pending``, save.

A kill before 3 leaves the progress of before the batch, so the batch is fetched again (never
lost).  On restart, ``pending`` tells which of its records had reached the file: those are put
in the seen window and not written again.  On stdout nothing can be read back, so the records
of that one batch may come out twice.
"""

from __future__ import annotations

from .checkpoint import CheckpointStore, StreamState
from .clock import Clock, Shutdown
from .outputs import Output
from .report import Reporter
from .seen import digest, record_key


class Source:
    kind = "?"
    max_seen = 10000

    def __init__(self, cfg, api, store: CheckpointStore, output: Output, clock: Clock, reporter: Reporter, shutdown: Shutdown):
        self.cfg = cfg
        self.id = cfg.id
        self.api = api
        self.store = store
        self.output = output
        self.clock = clock
        self.reporter = reporter
        self.shutdown = shutdown
        self.states: dict[str, StreamState] = {}

    @property
    def refresh(self) -> float:
        return self.cfg.refresh

    def streams(self) -> list[str]:
        raise NotImplementedError

    def run_pass(self) -> None:
        raise NotImplementedError

    def load_all(self) -> None:
        """Load every stream's progress and settle interrupted batches, before anything is written."""
        for stream in self.streams():
            self.state(stream)

    def state(self, stream: str) -> StreamState:
        st = self.states.get(stream)
        if st is None:
            st, warning = self.store.load(stream, self.max_seen)
            if warning:
                self.reporter.warn(f"input {self.id}: {warning}")
            if st.pending is not None:
                self._settle_pending(st)
            self.states[stream] = st
        return st

    def _settle_pending(self, st: StreamState) -> None:
        p = st.pending or {}
        keys = [k for k in p.get("keys") or [] if isinstance(k, str)]
        offset = p.get("offset")
        written = 0
        if self.output.is_file and p.get("path") == self.output.path and isinstance(offset, int):
            written = min(len(keys), self.output.lines_after(offset))
            for h in keys[:written]:
                st.seen.add_digest(h, int(p.get("t") or self.clock.now()))
        self.reporter.info(f"input {self.id} {st.stream}: the last run stopped while writing a batch; "
                           f"{written} of its {len(keys)} records had reached the output and will not be written again")
        st.pending = None
        self.save(st)

    def records_of(self, elements, kind: str, where: str, unit: str) -> list[tuple[str, object, str]]:
        """(key, record, text) for every object in a blob or page; anything else is reported
        (``where`` follows the input id in the message, e.g. " Audit.Exchange: content X") and counted as rejected."""
        records = []
        for el in elements:
            if isinstance(el.value, dict):
                records.append((record_key(kind, el.value, el.text), el.value, el.text))
            else:
                self.reporter.error(f"input {self.id}{where} holds a {type(el.value).__name__}, not a {unit}; skipped it")
                self.reporter.count("rejected", 1, self.id)
        return records

    def window_start(self, st: StreamState, now: int, earliest: int, lost: str) -> int:
        """Where this pass starts: the configured look-back on a first run (pinned in the
        progress file at once, so a restart cannot start later and miss data), else a little
        before the last progress; never before what the service still keeps (``lost`` says
        what cannot be fetched any more when the progress is older than that)."""
        if st.cursor is None:
            start = now - self.cfg.initial_lookback
        else:
            start = st.cursor - self.cfg.overlap
            if st.cursor < earliest:
                self.reporter.warn(lost)
        start = max(start, earliest)
        if st.cursor is None:
            st.cursor = start
            self.save(st)
        return start

    def save(self, st: StreamState) -> None:
        """Save progress; a shutdown request waits until the file is in place."""
        with self.shutdown.critical():
            self.store.save(st)

    def fresh(self, st: StreamState, records: list[tuple[str, object, str]]) -> list[tuple[str, object, str]]:
        """The records not emitted before (seen window, or earlier in this batch)."""
        out = []
        batch: set[str] = set()
        for rec in records:
            key = rec[0]
            if key in batch or key in st.seen:
                continue
            batch.add(key)
            out.append(rec)
        dups = len(records) - len(out)
        if dups:
            self.reporter.count("duplicates", dups, self.id)
        return out

    def commit(self, st: StreamState, records: list[tuple[str, object, str]], t: float, label: str, mark=None,
               record_time=None) -> int:
        lines = self.output.render(records, label)
        with self.shutdown.critical():
            if self.output.is_file and lines:
                st.pending = {"path": self.output.path, "offset": self.output.position(),
                              "keys": [digest(k) for k, _ in lines], "t": int(t)}
                self.store.save(st)
            self.output.write([line for _, line in lines], [key for key, _ in lines])
            self.output.flush()
            for rec in records:
                st.seen.add(rec[0], record_time(rec) if record_time is not None else t)
            if mark is not None:
                mark()
            st.pending = None
            self.store.save(st)
        self.reporter.count("records", len(lines), self.id)
        self.reporter.count("rejected", len(records) - len(lines), self.id)
        return len(lines)
