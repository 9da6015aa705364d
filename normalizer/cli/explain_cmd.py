"""``o365norm explain``: show which rules matched one record and where each attribute came from."""

from __future__ import annotations

import argparse
import sys

import orjson

from ..explain import explain
from ..readers import Reject, open_input, read_records
from . import exit_codes
from .common import add_rule_options, load_rules


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "explain",
        help="show how one record is normalized",
        description="Normalize one record (the first in FILE or stdin, or the one chosen with --record) and show "
        "the stream it went to, every rule with whether it applied, and for every output attribute the rule, "
        "file:line, source fields and functions it came from (or 'passthrough').",
    )
    p.add_argument("file", nargs="?", default="-", metavar="FILE", help="input file (default: stdin)")
    p.add_argument("--record", type=int, default=1, metavar="N", help="explain the N-th record of the input (default 1)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    add_rule_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.record < 1:
        print("o365norm: --record counts from 1", file=sys.stderr)
        return exit_codes.USAGE
    try:
        stream = open_input(args.file)
    except OSError as exc:
        print(f"o365norm: cannot read input {args.file}: {exc.strerror or exc}", file=sys.stderr)
        return exit_codes.USAGE
    ruleset = load_rules(args)
    source = "<stdin>" if args.file == "-" else args.file
    seen = 0
    with stream:
        for item in read_records(stream, source):
            seen += 1
            if seen < args.record:
                continue
            if isinstance(item, Reject):
                print(f"o365norm: record {seen} is rejected: {item.reason} ({source}:{item.line})", file=sys.stderr)
                return exit_codes.REJECTS
            line, record = item
            result = explain(ruleset, record)
            if args.json:
                sys.stdout.buffer.write(orjson.dumps(result.to_dict(), option=orjson.OPT_INDENT_2) + b"\n")
            else:
                sys.stdout.write(_render(result, f"{source}:{line}"))
            return exit_codes.OK
    print(f"o365norm: the input has {seen} record(s); nothing to explain at --record {args.record}", file=sys.stderr)
    return exit_codes.USAGE


def _render(result, where: str) -> str:
    out = [f"record {where} -> stream '{result.stream}'", "", "rules:"]
    width = max((len(r.rule_id) for r in result.rules), default=10)
    for r in result.rules:
        state = "applied" if r.applied else "skipped"
        out.append(f"  {state:8} {r.rule_id:<{width}}  {r.source}")
    out += ["", "attributes:"]
    for a in result.attributes:
        value = orjson.dumps(a.value).decode()
        if len(value) > 80:
            value = value[:77] + "..."
        out.append(f"  {a.key} = {value}")
        if a.kind == "rule":
            reads = ", ".join(a.reads) or "no fields"
            funcs = f" via {', '.join(f + '()' for f in a.functions)}" if a.functions else ""
            via_target = f" (wrote {a.target})" if a.target != a.key else ""
            out.append(f"      <- rule {a.rule_id} at {a.source}{via_target}: from {reads}{funcs}")
        elif a.kind == "passthrough":
            out.append(f"      <- passthrough of raw {a.raw_path}")
        else:
            out.append("      <- engine")
    return "\n".join(out) + "\n"
