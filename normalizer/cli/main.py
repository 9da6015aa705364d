"""Entry point of the ``o365norm`` command: subcommand dispatch and exit codes."""

from __future__ import annotations

import argparse
import sys

from .. import __version__
from . import check_cmd, explain_cmd, fetch_cmd, kafka_cmd, normalize_cmd, rules_test_cmd
from .common import run_guarded

_EPILOG = """\
exit codes: 0 ok; 1 some input was rejected (a rule test failed; for fetch, an input failed);
2 usage or configuration error; 3 the rules failed to load; 4 --strict and a rule failed on a record;
for kafka, 1 means a delivery or the Kafka client failed.
'o365norm FILE...' is short for 'o365norm normalize FILE...'."""

COMMANDS = ("normalize", "check", "explain", "rules", "fetch", "kafka")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="o365norm",
        description="Normalize Microsoft 365 audit logs and message trace into o365.* attributes with YAML rules.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"o365norm {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    normalize_cmd.add_parser(sub)
    check_cmd.add_parser(sub)
    explain_cmd.add_parser(sub)
    rules_test_cmd.add_parser(sub)
    fetch_cmd.add_parser(sub)
    kafka_cmd.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0] not in COMMANDS and argv[0] not in ("-h", "--help", "--version")):
        argv.insert(0, "normalize")
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return int(exc.code or 0)
    return run_guarded(args.func, args)
