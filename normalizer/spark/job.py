"""The Spark job: raw dumps in, from any path Spark reads; normalized NDJSON and rejects out.

    python -m normalizer.spark.job INPUT... --output DIR --rejects DIR [--rules DIR]... [--master local[2]]
    spark-submit --master yarn normalizer/spark/job.py s3a://bucket/audit/ --output s3a://... --rejects s3a://...

Each input file is read and normalized as ``o365norm normalize`` would: the records (part
files under --output) and the rejects (under --rejects, one JSON object per line: source,
line, reason, raw) are those of the command line, with the same summary on stderr and the
same exit codes, plus 5 when Spark itself fails (a task failed too often, an output cannot
be written). Order: the records of a file read whole stay together, in file order, in one
part file; which part file, and beside which other files, is up to Spark. With --split-lines,
NDJSON files come out in input order across the part files.
"""

from __future__ import annotations

import os
import sys

if __name__ == "__main__" and not __package__:
    # Run as a file (spark-submit .../job.py): Python put this file's directory first on sys.path, where
    # its module names could shadow others. Put the directory holding the normalizer package there.
    sys.path[0] = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import argparse  # noqa: E402

from normalizer.cli import exit_codes  # noqa: E402
from normalizer.cli.common import RulesFailed, add_rule_options, load_rules  # noqa: E402
from normalizer.spark.inputs import InputError, list_inputs, path_exists  # noqa: E402
from normalizer.spark.partition import PartitionNormalizer  # noqa: E402
from normalizer.spark.rule_config import RuleConfig  # noqa: E402
from normalizer.spark.session import get_session, require_pyspark  # noqa: E402
from normalizer.spark.held_rejects import LostReports, write_both  # noqa: E402
from normalizer.spark.job_input import job_input  # noqa: E402

SPARK_FAILED = exit_codes.SPARK_FAILED
GZIP_CODEC = "org.apache.hadoop.io.compress.GzipCodec"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m normalizer.spark.job",
        description="Normalize raw Microsoft 365 audit records and message-trace rows with Spark: the same "
        "records and rejects as `o365norm normalize`, written as part files.",
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="files, directories (every .json/.ndjson/.jsonl[.gz] below) or Hadoop globs; any path Spark reads")
    p.add_argument("--output", required=True, metavar="DIR", help="directory for the normalized NDJSON part files (must not exist)")
    p.add_argument("--rejects", required=True, metavar="DIR", help="directory for the rejects, JSON lines (must not exist)")
    p.add_argument("--nested", action="store_true", help="write nested objects instead of flat dotted keys")
    p.add_argument("--split-lines", action="store_true",
                   help="split .ndjson/.jsonl files by line for parallelism; other files are read whole")
    p.add_argument("--partitions", type=_positive, metavar="N", help="minimum partitions of the files read whole, and of each file split by line "
                   "(default: Spark's default parallelism; for split files, Spark's default)")
    p.add_argument("--gzip", action="store_true", help="gzip the part files")
    p.add_argument("--master", metavar="URL", help="Spark master (default: spark-submit's, or local[*])")
    p.add_argument("-q", "--quiet", action="store_true", help="no summary line on stderr")
    add_rule_options(p)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        require_pyspark()
    except ImportError as exc:
        print(f"o365norm: {exc}", file=sys.stderr)
        return exit_codes.USAGE
    try:  # before Spark starts: a rule error costs no cluster time, and reads as on the command line
        load_rules(args)
        config = RuleConfig.from_dirs(args.rules, builtin=not args.no_builtin, collection_cap=args.collection_cap)
    except RulesFailed:
        return exit_codes.RULE_ERROR
    except OSError as exc:
        print(f"o365norm: cannot read rules {exc.filename}: {exc.strerror or exc}", file=sys.stderr)
        return exit_codes.RULE_ERROR
    spark, started = get_session(args.master)
    try:
        return run(spark.sparkContext, args, PartitionNormalizer(config, nested=args.nested))
    finally:
        if started:
            spark.stop()


def run(sc, args: argparse.Namespace, normalizer: PartitionNormalizer) -> int:
    """List the inputs, normalize, write both outputs, print the summary; the exit code."""
    from py4j.protocol import Py4JJavaError

    try:
        listing = list_inputs(sc, args.inputs)
        _check_outputs(sc, args)
        source = job_input(sc, listing.files, split=args.split_lines, partitions=args.partitions)
        for name in listing.hidden:
            print(f"o365norm: skipped {name}: Hadoop does not read files whose names start with '_' or '.'",
                  file=sys.stderr)
        counts = write_both(sc, source, normalizer, args.output, args.rejects, GZIP_CODEC if args.gzip else None)
    except InputError as exc:
        print(f"o365norm: {exc}", file=sys.stderr)
        return exit_codes.USAGE
    except Py4JJavaError as exc:  # the cause, with the Python traceback of a task that failed
        print(f"o365norm: the Spark job failed: {exc.java_exception.toString()}", file=sys.stderr)
        return SPARK_FAILED
    except LostReports as exc:
        print(f"o365norm: the Spark job failed: {exc}", file=sys.stderr)
        return SPARK_FAILED
    if not args.quiet:
        print(counts.summary(), file=sys.stderr)
    return exit_codes.REJECTS if counts.rejected or listing.hidden else exit_codes.OK


def _check_outputs(sc, args: argparse.Namespace) -> None:
    if args.output.rstrip("/") == args.rejects.rstrip("/"):
        raise InputError("--output and --rejects must be different directories")
    for option, path in (("--output", args.output), ("--rejects", args.rejects)):
        if path_exists(sc, path):
            raise InputError(f"{option} {path} already exists; Spark does not write into an existing directory")


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


if __name__ == "__main__":
    raise SystemExit(main())
