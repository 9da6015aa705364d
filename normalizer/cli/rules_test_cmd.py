"""``o365norm rules test DIR``: run the examples and golden samples that live beside a user's rules."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..harness import find_golden_cases, run_golden, run_rule_examples
from . import exit_codes
from .common import add_rule_options, load_rules


def add_parser(sub: argparse._SubParsersAction) -> None:
    rules = sub.add_parser("rules", help="work with rule directories", description="Rule directory tools.")
    rsub = rules.add_subparsers(dest="rules_command", metavar="COMMAND")
    rsub.required = True
    p = rsub.add_parser(
        "test",
        help="run rule examples and golden samples",
        description="Load DIR on top of the built-in rules, then run (1) the examples of every rule defined in DIR "
        "and (2) every golden sample below DIR: an input file (case.json, case.ndjson, .gz allowed) whose whole "
        "output must equal case.expected.json. Exit 0 when everything passes, 1 otherwise.",
    )
    p.add_argument("dir", metavar="DIR", help="directory with rule files and/or golden samples")
    p.add_argument("--samples", metavar="DIR", action="append", default=[], help="more golden sample directories")
    p.add_argument("--all-examples", action="store_true", help="also run the built-in rules' examples")
    p.add_argument("--update", action="store_true", help="rewrite the .expected.json files from the current output (review the diff!)")
    p.add_argument("-v", "--verbose", action="store_true", help="list passing cases too")
    add_rule_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    directory = Path(args.dir)
    if not directory.is_dir():
        print(f"o365norm: not a directory: {directory}", file=sys.stderr)
        return exit_codes.USAGE
    has_rules = any(p.suffix in (".yaml", ".yml") for p in directory.rglob("*"))
    args.rules = list(args.rules) + ([str(directory)] if has_rules else [])
    ruleset = load_rules(args)
    overlay_layers = range(0 if args.no_builtin else 1, 1 + len(args.rules))
    results = run_rule_examples(ruleset, None if args.all_examples else overlay_layers)
    for sample_dir in [directory, *map(Path, args.samples)]:
        results.extend(run_golden(ruleset, case, update=args.update) for case in find_golden_cases(sample_dir))
    failed = [r for r in results if not r.passed]
    for r in results:
        if not r.passed:
            print(f"FAIL {r.name}")
            for line in r.details:
                print(f"     {line}")
        elif r.updated:
            print(f"UPDATED {r.name}")
        elif args.verbose:
            print(f"ok   {r.name}")
    print(f"rules test: {len(results) - len(failed)} passed, {len(failed)} failed")
    return exit_codes.REJECTS if failed else exit_codes.OK
