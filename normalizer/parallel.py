"""--jobs N: normalize in N worker processes, output in input order.

The main process cuts NDJSON into batches of whole lines of about 1 MiB and deals them
round-robin to N workers forked after the rules were compiled. A regular, uncompressed
file is cut into byte ranges that the workers read themselves (``file_ranges``); other
NDJSON (stdin, gzip) is read by the main process in blocks cut after their last newline,
with no per-line work there. Each worker normalizes its batches in the order
received and sends back the output, rejects and counts of each. The main process takes
the results back round-robin too, so they come strictly in the order the batches were
read: output order, line numbers in rejects and the counts are exactly those of a
single-process run. JSON arrays and envelopes (documents) are scanned by the main process,
which checks each record and sends it on as its JSON text (``RawRecord``: bytes cost far
less to send than parsed objects), in batches, in their place in the order.

Why not multiprocessing.Pool: its pickling and its three helper threads in the main
process cost about as much CPU as a third worker, which on two cores ate most of the
gain. Here a batch is one length-prefixed frame on a pipe; a result is a small header and
the raw output bytes, written out without being decoded. At most ``DEPTH`` batches per
worker are in flight, so memory stays bounded; a thread in each worker drains its task
pipe, so the main process never blocks on a worker that is itself waiting to hand back
a result.
"""

from __future__ import annotations

import gc
import os
import pickle
import queue
import signal
import struct
import threading
import traceback
from collections import deque
from io import BytesIO
from typing import BinaryIO, Callable, Iterable

from .file_ranges import FileRange, file_ranges, plain_ndjson_start, range_items
from .pipeline import Counts, StrictFailure, normalize_items
from .readers import LineBatch, parse_batch, parsed, read_batches
from .ruleset import Ruleset

DOCUMENT_BATCH = 500  # records of an array or envelope sent to a worker together
DEPTH = 3  # batches in flight per worker
_LENGTH = struct.Struct("<Q")
_RESULT = struct.Struct("<QQQQQQQB")  # out, rejects, failure lengths; the four counts; status
_OK, _FAILED = 0, 1  # status of a result: normalized, or the worker hit an internal error


class WorkerFailed(RuntimeError):
    """A worker process died or hit an internal error; output stops before its batch."""


def normalize_parallel(inputs: Iterable[tuple[str, BinaryIO]], ruleset: Ruleset, jobs: int, *, nested: bool, strict: bool,
                       write: Callable[[bytes], object], write_reject: Callable[[bytes], object], counts: Counts) -> None:
    """Like running normalize_items over every input in turn, with ``jobs`` processes."""
    pool = _Workers(ruleset, jobs, nested, strict)
    try:
        pending: deque[int] = deque()  # the worker of every batch in flight, oldest first
        turn = 0

        def finish_one() -> None:
            data, rejected, part, failure = pool.receive(pending.popleft())
            write(data)
            write_reject(rejected)
            counts.add(part)
            if failure is not None:
                raise StrictFailure(failure)

        def submit(batch: FileRange | LineBatch | tuple[str, list]) -> None:
            nonlocal turn
            worker, turn = turn, (turn + 1) % jobs
            while pending and len(pending) >= DEPTH * jobs:
                finish_one()
            pool.send(worker, batch)
            pending.append(worker)

        for path, stream in inputs:
            source = "<stdin>" if path == "-" else path
            records: list = []  # of a document (RawRecords and Rejects), sent on in batches
            with stream:
                start = plain_ndjson_start(stream) if path != "-" else None
                if start is not None:  # the workers read it themselves
                    for part in file_ranges(source, path, stream.fileno(), start):
                        submit(part)
                    continue
                for item in read_batches(stream, source):
                    if item.__class__ is LineBatch:
                        if records:
                            submit((source, records))
                            records = []
                        submit(item)
                    else:
                        records.append(item)
                        if len(records) >= DOCUMENT_BATCH:
                            submit((source, records))
                            records = []
            if records:
                submit((source, records))
        while pending:
            finish_one()
    finally:
        pool.close()


class _Workers:
    """N forked worker processes, each with a task pipe and a result pipe."""

    def __init__(self, ruleset: Ruleset, jobs: int, nested: bool, strict: bool):
        self.pids: list[int] = []
        self.tasks: list[int] = []  # write ends
        self.results: list[BinaryIO] = []  # read ends
        gc.freeze()  # the compiled rules stay shared: no collection in a worker touches (copies) them
        try:
            for number in range(jobs):
                task_r, task_w = os.pipe()
                result_r, result_w = os.pipe()
                _widen(task_w)
                _widen(result_w)
                pid = os.fork()
                if pid == 0:  # the worker: never returns
                    os.close(task_w)
                    os.close(result_r)
                    for fd in self.tasks:  # earlier workers' pipes, inherited
                        os.close(fd)
                    for f in self.results:
                        os.close(f.fileno())
                    _worker_main(ruleset, nested, strict, task_r, result_w)
                os.close(task_r)
                os.close(result_w)
                self.pids.append(pid)
                self.tasks.append(task_w)
                self.results.append(os.fdopen(result_r, "rb", buffering=0))
        finally:
            gc.unfreeze()

    def send(self, worker: int, batch: FileRange | LineBatch | tuple[str, list]) -> None:
        frame = pickle.dumps(batch, protocol=pickle.HIGHEST_PROTOCOL)
        try:
            _write_all(self.tasks[worker], _LENGTH.pack(len(frame)))
            _write_all(self.tasks[worker], frame)
        except BrokenPipeError:
            raise WorkerFailed(self._death(worker)) from None

    def receive(self, worker: int) -> tuple[memoryview, memoryview, Counts, str | None]:
        stream = self.results[worker]
        header = _read_exact(stream, _RESULT.size)
        if header is None:
            raise WorkerFailed(self._death(worker))
        n_out, n_rej, n_fail, records_in, records_out, rejected, warned, status = _RESULT.unpack(header)
        body = _read_exact(stream, n_out + n_rej + n_fail)
        if body is None:
            raise WorkerFailed(self._death(worker))
        view = memoryview(body)
        failure = bytes(view[n_out + n_rej:]).decode("utf-8") if n_fail or status != _OK else None
        if status != _OK:
            raise WorkerFailed(f"--jobs worker {worker + 1} failed: {failure}")
        return view[:n_out], view[n_out:n_out + n_rej], Counts(records_in, records_out, rejected, warned), failure

    def _death(self, worker: int) -> str:
        pid = self.pids[worker]
        try:
            _, status = os.waitpid(pid, 0)
        except ChildProcessError:
            return f"--jobs worker {worker + 1} stopped unexpectedly"
        self.pids[worker] = 0
        how = f"signal {os.WTERMSIG(status)}" if os.WIFSIGNALED(status) else f"exit code {os.waitstatus_to_exitcode(status)}"
        return f"--jobs worker {worker + 1} stopped unexpectedly ({how})"

    def close(self) -> None:
        """End the workers: done, or stopped early (--strict, an error, Ctrl-C)."""
        for fd in self.tasks:
            os.close(fd)  # end of tasks: an idle worker exits
        for f in self.results:
            f.close()  # a worker still writing a result gets EPIPE and exits
        for pid in self.pids:
            if pid:
                try:
                    os.kill(pid, signal.SIGTERM)
                    os.waitpid(pid, 0)
                except (ProcessLookupError, ChildProcessError):
                    pass
        self.tasks, self.results, self.pids = [], [], []


def _worker_main(ruleset: Ruleset, nested: bool, strict: bool, task_fd: int, result_fd: int) -> None:
    """Normalize batches until the task pipe ends; then leave without running the main
    process's exit handlers or flushing its buffers (they are the main process's).

    Two threads keep the normalizing loop busy: one reads tasks as soon as they come, one
    writes results, so that this worker goes on with its next batch while the main process
    is still taking the other workers' results in order."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the main process's to handle
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    status = 0
    try:
        batches: queue.SimpleQueue = queue.SimpleQueue()
        results: queue.SimpleQueue = queue.SimpleQueue()
        threading.Thread(target=_drain, args=(task_fd, batches), daemon=True).start()
        writer = threading.Thread(target=_deliver, args=(result_fd, results), daemon=True)
        writer.start()
        while (batch := batches.get()) is not None:
            results.put(_normalize_batch(ruleset, batch, nested, strict))
        results.put(None)
        writer.join()
    except BaseException:  # noqa: BLE001 - the main process sees the result pipe end early
        status = 1
    finally:
        os._exit(status)


def _drain(task_fd: int, batches: queue.SimpleQueue) -> None:
    """Read every task frame as soon as it arrives, so the main process's writes never wait."""
    with os.fdopen(task_fd, "rb", buffering=0) as stream:
        while (head := _read_exact(stream, _LENGTH.size)) is not None:
            frame = _read_exact(stream, _LENGTH.unpack(head)[0])
            if frame is None:
                break
            batches.put(pickle.loads(frame))
    batches.put(None)


def _deliver(result_fd: int, results: queue.SimpleQueue) -> None:
    """Write results in order until told to stop; the main process closing its end ends it too."""
    try:
        while (frame := results.get()) is not None:
            _write_all(result_fd, frame)
    except BrokenPipeError:
        os._exit(0)  # the main process stopped reading: it is ending


def _normalize_batch(ruleset: Ruleset, batch: FileRange | LineBatch | tuple[str, list], nested: bool, strict: bool) -> bytes:
    """One batch (a range of a file, raw NDJSON lines, or the records of a document) to a result frame."""
    out, rejects, counts = BytesIO(), BytesIO(), Counts()
    failure, status = b"", _OK
    try:
        if batch.__class__ is FileRange:
            source, items = batch.source, range_items(batch)
        elif batch.__class__ is LineBatch:
            source, items = batch.source, parse_batch(batch)
        else:
            source, items = batch[0], parsed(batch[1])
        normalize_items(items, source, ruleset, nested=nested, strict=strict,
                        write=out.write, write_reject=rejects.write, counts=counts)
    except StrictFailure as exc:
        failure = exc.message.encode("utf-8")
    except Exception:  # noqa: BLE001 - reported as the worker's failure, with the traceback
        failure, status = traceback.format_exc().encode("utf-8", "replace"), _FAILED
    data, rejected = out.getbuffer(), rejects.getbuffer()
    header = _RESULT.pack(len(data), len(rejected), len(failure), counts.records_in, counts.records_out,
                          counts.rejected, counts.with_warnings, status)
    return b"".join((header, data, rejected, failure))


def _widen(fd: int) -> None:
    """A 1 MiB pipe buffer where the system allows it: fewer wake-ups per result."""
    try:
        import fcntl

        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, 1 << 20)
    except (ImportError, AttributeError, OSError):
        pass


def _write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _read_exact(stream: BinaryIO, n: int) -> bytearray | None:
    """Exactly ``n`` bytes, or None when the pipe ends first."""
    buf = bytearray(n)
    view, got = memoryview(buf), 0
    while got < n:
        more = stream.readinto(view[got:])
        if not more:
            return None
        got += more
    return buf
