"""--jobs N: normalize NDJSON input in N worker processes, output in input order.

The main process reads the input and cuts NDJSON into batches of whole lines (about 1 MiB);
workers parse, normalize and serialize a batch each and hand back the output bytes. Results
are written strictly in the order the batches were read, so output order, line numbers in
rejects and the counts are exactly those of a single-process run. At most 2N batches are in
flight, so memory stays bounded. JSON arrays and envelopes (documents) are parsed by the
main process as they are read and normalized there, in their place in the order.

Workers are forked after the rules were compiled, so they start with the compiled rule set.
"""

from __future__ import annotations

import multiprocessing
from collections import deque
from io import BytesIO
from typing import BinaryIO, Callable

from .pipeline import Counts, StrictFailure, normalize_items
from .readers import LineBatch, parse_batch, read_batches
from .ruleset import Ruleset

_WORKER_RULESET: Ruleset | None = None  # set in the parent before forking
DOCUMENT_BATCH = 500  # records parsed from an array or envelope, sent to a worker together


def _work(batch: LineBatch | tuple[str, list], nested: bool, strict: bool) -> tuple[bytes, bytes, Counts, str | None]:
    """One batch: raw NDJSON lines, or (source, items) already parsed from a document."""
    if batch.__class__ is LineBatch:
        source, items = batch.source, parse_batch(batch)
    else:
        source, items = batch
    out, rejects, counts = BytesIO(), BytesIO(), Counts()
    failure = None
    try:
        normalize_items(items, source, _WORKER_RULESET, nested=nested, strict=strict,
                        write=out.write, write_reject=rejects.write, counts=counts)
    except StrictFailure as exc:
        failure = exc.message
    return out.getvalue(), rejects.getvalue(), counts, failure


def normalize_parallel(inputs: list[tuple[str, BinaryIO]], ruleset: Ruleset, jobs: int, *, nested: bool, strict: bool,
                       write: Callable[[bytes], object], write_reject: Callable[[bytes], object], counts: Counts) -> None:
    """Like running normalize_items over every input in turn, with ``jobs`` processes."""
    global _WORKER_RULESET
    _WORKER_RULESET = ruleset
    context = multiprocessing.get_context("fork")
    pending: deque = deque()

    def finish_one() -> None:
        data, rejected, part, failure = pending.popleft().get()
        write(data)
        write_reject(rejected)
        counts.add(part)
        if failure is not None:
            raise StrictFailure(failure)

    with context.Pool(jobs) as pool:

        def submit(batch) -> None:
            pending.append(pool.apply_async(_work, (batch, nested, strict)))
            while len(pending) >= 2 * jobs:
                finish_one()

        for path, stream in inputs:
            source = "<stdin>" if path == "-" else path
            parsed: list = []  # records of a document, sent on in batches
            with stream:
                for item in read_batches(stream, source):
                    if item.__class__ is LineBatch:
                        if parsed:
                            submit((source, parsed))
                            parsed = []
                        submit(item)
                    else:
                        parsed.append(item)
                        if len(parsed) >= DOCUMENT_BATCH:
                            submit((source, parsed))
                            parsed = []
            if parsed:
                submit((source, parsed))
        while pending:
            finish_one()
