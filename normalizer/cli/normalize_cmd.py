"""``o365norm normalize``: raw records in (files or stdin), normalized NDJSON out.

Streaming end to end: records are read, normalized and written one at a time, so
memory stays flat however large the input. Every record comes out, or is written
to the rejects sink with its source, line and reason; nothing is dropped silently.
"""

from __future__ import annotations

import argparse
import sys
from typing import BinaryIO, Iterator


from ..parallel import WorkerFailed, normalize_parallel
from ..pipeline import Counts, StrictFailure, normalize_items
from ..readers import open_input, read_records
from . import exit_codes
from .common import add_rule_options, load_rules


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "normalize",
        help="normalize raw records (default command)",
        description="Read raw Microsoft 365 audit records or message-trace rows and write one normalized "
        "JSON object per line. Input: NDJSON, a JSON array (a Management Activity API content blob), "
        "OData envelopes ({\"value\": [...]}, {\"d\": {\"results\": [...]}}), optionally gzipped.",
    )
    p.add_argument("files", nargs="*", metavar="FILE", help="input files or directories (every .json/.ndjson/.jsonl[.gz] below them); none or '-' reads stdin")
    p.add_argument("-o", "--output", metavar="FILE", help="write records here instead of stdout")
    p.add_argument("--rejects", metavar="FILE", help="write rejected input here as JSON lines (default: stderr)")
    p.add_argument("--nested", action="store_true", help="write nested objects instead of flat dotted keys")
    p.add_argument("--strict", action="store_true", help="stop with exit code 4 at the first rule that fails on a record")
    p.add_argument("-q", "--quiet", action="store_true", help="no summary line on stderr")
    p.add_argument(
        "-j", "--jobs", type=_positive, default=1, metavar="N",
        help="normalize in N processes (output stays in input order; plain NDJSON files scale best; "
        "input goes in 1 MiB batches, so not for live streams; default 1)",
    )
    add_rule_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    files = expand_inputs(args.files or ["-"])
    clash = _output_is_input(args, files)
    if clash:
        print(f"o365norm: {clash} is both an input and an output; refusing to overwrite it", file=sys.stderr)
        return exit_codes.USAGE
    for path in files:  # check everything first: a typo in the last name should not waste a long run
        try:
            if path != "-":
                open_input(path).close()  # opened again at its turn: there may be more files than may be open at once
        except OSError as exc:
            print(f"o365norm: cannot read input {path}: {exc.strerror or exc}", file=sys.stderr)
            return exit_codes.USAGE
    inputs = _opened(files)
    ruleset = load_rules(args)
    counts = Counts()
    out = None
    try:
        out = _open_output(args.output)
        rejects = _open_output(args.rejects, default=sys.stderr.buffer)
    except OSError as exc:  # an unwritable -o / --rejects is a usage error, not a traceback
        if out is not None and out is not sys.stdout.buffer:
            out.close()
        print(f"o365norm: cannot write {exc.filename}: {exc.strerror or exc}", file=sys.stderr)
        return exit_codes.USAGE
    status = exit_codes.OK
    options = dict(nested=args.nested, strict=args.strict, write=out.write, write_reject=rejects.write, counts=counts)
    try:
        if args.jobs > 1:
            normalize_parallel(inputs, ruleset, args.jobs, **options)
        else:
            def flush() -> None:  # before a read that may wait: nothing is held back while the input is quiet
                out.flush()
                rejects.flush()

            for path, stream in inputs:
                source = "<stdin>" if path == "-" else path
                with stream:
                    normalize_items(read_records(stream, source, flush), source, ruleset, **options)
    except StrictFailure as exc:
        print(f"o365norm: --strict: {exc.message}", file=sys.stderr)
        status = exit_codes.STRICT
    except _InputGone as exc:  # readable at the start, not when its turn came
        print(f"o365norm: {exc}", file=sys.stderr)
        status = exit_codes.USAGE
    except WorkerFailed as exc:
        print(f"o365norm: {exc}; the output is complete up to the batch it was working on", file=sys.stderr)
        status = exit_codes.WORKER_FAILED
    except BrokenPipeError:  # e.g. piped into `head`: stop quietly (what is still buffered goes nowhere)
        _discard_broken_std_streams()
        return exit_codes.OK
    finally:
        out.flush()
        rejects.flush()
        if out is not sys.stdout.buffer:
            out.close()
        if rejects is not sys.stderr.buffer:
            rejects.close()
    if not args.quiet:
        print(counts.summary(), file=sys.stderr)
    if status == exit_codes.OK and counts.rejected:
        status = exit_codes.REJECTS
    return status


class _InputGone(Exception):
    """An input that could be read at the start could not be opened when its turn came."""


def _opened(files: list[str]) -> Iterator[tuple[str, BinaryIO]]:
    """Each input opened when its turn comes (and closed by its reader after it)."""
    for path in files:
        try:
            stream = open_input(path)
        except OSError as exc:
            raise _InputGone(f"cannot read input {path}: {exc.strerror or exc}") from None
        yield path, stream


def _discard_broken_std_streams() -> None:
    """Point stdout (and stderr) at /dev/null so that the flushes still to come, ours and
    the interpreter's at exit, do not fail again on the closed pipe."""
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (BrokenPipeError, ValueError):
            os.dup2(devnull, stream.fileno())
    os.close(devnull)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def expand_inputs(paths: list[str]) -> list[str]:
    """Directories stand for every input file below them (golden ``*.expected.json`` excluded)."""
    from pathlib import Path

    from ..harness import EXPECTED_SUFFIX, INPUT_SUFFIXES

    out: list[str] = []
    for path in paths:
        if path != "-" and Path(path).is_dir():
            out.extend(
                str(p) for p in sorted(Path(path).rglob("*"))
                if p.is_file() and p.name.endswith(INPUT_SUFFIXES) and not p.name.endswith(EXPECTED_SUFFIX)
            )
        else:
            out.append(path)
    return out


def _output_is_input(args: argparse.Namespace, files: list[str]) -> str | None:
    import os

    for target in (args.output, args.rejects):
        if not target or target == "-" or not os.path.exists(target):
            continue
        for path in files:
            if path != "-" and os.path.exists(path) and os.path.samefile(path, target):
                return target
    return None


def _open_output(path: str | None, default: BinaryIO | None = None) -> BinaryIO:
    if path is None or path == "-":
        return default or sys.stdout.buffer
    return open(path, "wb", buffering=1 << 20)
