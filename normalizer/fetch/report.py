"""Progress and counts on stderr: records go to the output, everything a person reads goes here.

Messages never carry a secret: they are built from ids, URLs, status codes and the error codes
and messages that Microsoft's services return, none of which contain the client secret.
"""

from __future__ import annotations

import sys
from collections import Counter
from typing import TextIO


class Reporter:
    def __init__(self, stream: TextIO | None = None, quiet: bool = False):
        self.stream = stream if stream is not None else sys.stderr
        self.quiet = quiet
        self.counts: Counter[str] = Counter()
        self.per_input: dict[str, Counter[str]] = {}

    def always(self, text: str) -> None:
        try:
            self.stream.write(f"o365norm fetch: {text}\n")
            self.stream.flush()
        except (OSError, ValueError):  # stderr gone: keep fetching
            pass

    def info(self, text: str) -> None:
        if not self.quiet:
            self.always(text)

    def warn(self, text: str) -> None:
        self.always(f"warning: {text}")

    def error(self, text: str) -> None:
        self.always(f"error: {text}")

    def count(self, what: str, n: int = 1, input_id: str | None = None) -> None:
        if n:
            self.counts[what] += n
            if input_id is not None:
                self.per_input.setdefault(input_id, Counter())[what] += n

    def summary(self) -> str:
        c = self.counts
        return (f"{c['records']} records out, {c['duplicates']} duplicates suppressed, "
                f"{c['malformed_blobs']} malformed blobs skipped, {c['rejected']} records rejected, "
                f"{c['throttled']} throttled waits, {c['retries']} retried requests, "
                f"{c['token_renewals']} token renewals, {c['errors']} errors")

    def input_summary(self, input_id: str) -> str:
        c = self.per_input.get(input_id, Counter())
        extra = "".join(f", {c[k]} {label}" for k, label in (
            ("blobs", "blobs"), ("rows", "rows"), ("duplicates", "duplicates suppressed"),
            ("malformed_blobs", "malformed blobs skipped"), ("rejected", "rejected"), ("errors", "errors")) if c[k])
        return f"input {input_id}: {c['records']} records{extra}"
