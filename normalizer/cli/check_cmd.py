"""``o365norm check``: compile the rules and print every diagnostic."""

from __future__ import annotations

import argparse
import sys

from . import exit_codes
from .common import add_rule_options, load_rules


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "check",
        help="compile rules and report problems",
        description="Load the built-in rules plus each DIR (as overlays), compile everything and print every "
        "problem as path:line:col: error[CODE] message. Exit 0 when clean, 3 on any rule error.",
    )
    p.add_argument("dirs", nargs="*", metavar="DIR", help="rule directories to check on top of the built-in rules")
    add_rule_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    args.rules = list(args.rules) + list(args.dirs)
    ruleset = load_rules(args)
    source = ruleset.source
    if ruleset.warnings:
        from ..diagnostics import RuleLoadError

        print(RuleLoadError(ruleset.warnings, source.texts), file=sys.stderr)
    print(
        f"o365norm: rules OK: {ruleset.rule_count} rules in {len(source.files)} files, "
        f"{len(source.enums)} enum tables, {len(source.streams)} streams"
        + (f", {len(ruleset.warnings)} warning(s)" if ruleset.warnings else ""),
        file=sys.stderr,
    )
    return exit_codes.OK
