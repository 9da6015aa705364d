"""``o365norm fetch``: collect audit records and message trace from Microsoft 365 and normalize them.

The configuration is the documented LogMan.io one (connection, inputs, outputs); see the
README section "Collecting with the built-in fetcher".  Records go to the configured outputs
(stdout by default); progress, warnings and counts go to stderr.
"""

from __future__ import annotations

import argparse
import sys

from ..diagnostics import RuleLoadError
from . import exit_codes


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "fetch",
        help="collect audit logs and message trace from Microsoft 365 (Management Activity API, Graph)",
        description="Collect Microsoft 365 audit records (Office 365 Management Activity API) and Exchange message "
        "trace (Microsoft Graph messageTraces, or the legacy Reporting Web Service) as configured in FILE, "
        "normalize them with the rules and write NDJSON. Runs until SIGINT/SIGTERM; --once makes one pass.",
        epilog="exit codes: 0 ok (also after a clean shutdown); 1 an input failed in a --once run, or records could "
        "not be written; 2 configuration error; 3 the rules failed to load.",
    )
    p.add_argument("--config", required=True, metavar="FILE", help="YAML configuration (connection:, input:, output: sections)")
    p.add_argument("--once", action="store_true", help="one pass over what is available now, then exit (for cron and tests)")
    p.add_argument("-q", "--quiet", action="store_true", help="only warnings, errors and the final counts on stderr")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..fetch.config import ConfigError, load_config
    from ..fetch.runner import Runner

    try:
        cfg = load_config(args.config)
    except ConfigError as exc:
        print(exc.message(), file=sys.stderr)
        return exit_codes.USAGE
    runner = Runner(cfg, once=args.once, quiet=args.quiet)
    try:
        return runner.run()
    except RuleLoadError as exc:
        print(exc, file=sys.stderr)
        print("o365norm fetch: the rules failed to load; nothing was fetched", file=sys.stderr)
        return exit_codes.RULE_ERROR
