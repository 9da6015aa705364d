"""Pieces shared by the subcommands: rule loading and error reporting."""

from __future__ import annotations

import argparse
import sys

from ..context import DEFAULT_COLLECTION_CAP, Options
from ..diagnostics import RuleLoadError
from ..ruleset import Ruleset, load_ruleset
from . import exit_codes


def add_rule_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--rules", metavar="DIR", action="append", default=[],
        help="extra rule directory layered on top of the built-in rules (repeatable; later wins)",
    )
    parser.add_argument("--no-builtin", action="store_true", help="do not load the built-in rules")
    parser.add_argument(
        "--collection-cap", metavar="N", type=int, default=DEFAULT_COLLECTION_CAP,
        help=f"keys a Name/Value collection may expand to before the rest goes to its _overflow key (default {DEFAULT_COLLECTION_CAP})",
    )


class RulesFailed(Exception):
    """The rules did not load; the diagnostics were already printed."""


def load_rules(args: argparse.Namespace) -> Ruleset:
    try:
        return load_ruleset(args.rules, builtin=not args.no_builtin, options=Options(collection_cap=args.collection_cap))
    except RuleLoadError as exc:
        print(exc, file=sys.stderr)
        n = len(exc.diagnostics)
        print(f"o365norm: {n} rule error{'s' if n != 1 else ''}; nothing was processed", file=sys.stderr)
        raise RulesFailed() from None


def run_guarded(fn, args) -> int:
    try:
        return fn(args)
    except RulesFailed:
        return exit_codes.RULE_ERROR
    except KeyboardInterrupt:  # Ctrl-C: what was written stays written (outputs are flushed on the way out)
        print("o365norm: interrupted", file=sys.stderr)
        return exit_codes.INTERRUPTED
