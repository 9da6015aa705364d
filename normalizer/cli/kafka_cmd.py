"""``o365norm kafka``: a consumer-group stage from raw-record topics to a normalized topic.

See ``normalizer.kafka.stage`` for the delivery guarantee.  Client settings are librdkafka's
own properties (``-X``, ``--properties FILE``), so any security setup a cluster needs passes
straight through; secret values never appear on stderr.
"""

from __future__ import annotations

import argparse
import sys

from . import exit_codes
from .common import add_rule_options, load_rules

_EPILOG = """\
client settings: librdkafka properties, e.g. -X security.protocol=SASL_SSL -X sasl.mechanism=SCRAM-SHA-512
  -X sasl.username=o365norm; keep passwords in a --properties file (key=value lines) rather than on the
  command line. -X and --properties apply to both the consumer and the producer; --consumer-property and
  --producer-property to one of them. enable.auto.commit cannot be turned on.

delivery: at-least-once. Offsets are committed only after the broker acknowledged every record produced
from them; after a crash the stage consumes again from the last commit, so a record may come out twice
(same key), never zero times. SIGTERM/SIGINT: stop, deliver, commit, leave the group.
Scale out by starting more instances with the same --group.

exit codes: 0 stopped cleanly; 1 a delivery or the Kafka client failed (nothing after it committed);
2 usage or client settings error; 3 the rules failed to load."""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "kafka",
        help="normalize records from Kafka topics to a Kafka topic (consumer group, at-least-once)",
        description="Consume raw Microsoft 365 audit records or message-trace rows from Kafka topics as a member "
        "of a consumer group, normalize them, produce each result to the output topic (keyed by the record's id) "
        "and each reject, with its reason, source topic, partition and offset, to the dead-letter topic. "
        "A message may hold one record, a JSON array (content blob), an OData/Graph page or NDJSON lines.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--bootstrap-servers", required=True, metavar="HOSTS", help="host:port[,host:port...] of the cluster")
    p.add_argument("--group", required=True, metavar="ID", help="consumer group id; instances sharing it split the partitions")
    p.add_argument("--topic", required=True, action="append", metavar="TOPIC", dest="topics",
                   help="input topic of raw records (repeatable; '^regex' subscribes by pattern)")
    p.add_argument("--output-topic", required=True, metavar="TOPIC", help="where normalized records go")
    p.add_argument("--dead-letter-topic", required=True, metavar="TOPIC",
                   help="where rejects go, as JSON with source, topic, partition, offset, line, reason and raw")
    p.add_argument("-X", dest="props", action="append", default=[], metavar="KEY=VALUE",
                   help="librdkafka property for both clients (repeatable)")
    p.add_argument("--properties", dest="props_files", action="append", default=[], metavar="FILE",
                   help="file of key=value librdkafka properties for both clients (repeatable; -X wins)")
    p.add_argument("--consumer-property", action="append", default=[], metavar="KEY=VALUE", help="consumer-only property")
    p.add_argument("--producer-property", action="append", default=[], metavar="KEY=VALUE", help="producer-only property")
    p.add_argument("--nested", action="store_true", help="produce nested objects instead of flat dotted keys")
    p.add_argument("--stop-when-idle", type=float, metavar="SECONDS",
                   help="stop after SECONDS without a message once partitions are assigned (backfills, tests)")
    p.add_argument("-q", "--quiet", action="store_true", help="only warnings, errors and the final counts on stderr")
    add_rule_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..kafka import KafkaUnavailable
    from ..kafka.properties import PropertyError, parse_assignment, read_properties_file
    from ..kafka.stage import KafkaStage, StageError, StageSettings

    try:
        props: dict[str, str] = {}
        for path in args.props_files:
            props.update(read_properties_file(path))
        props.update(parse_assignment(a, "-X") for a in args.props)
        consumer = dict(parse_assignment(a, "--consumer-property") for a in args.consumer_property)
        producer = dict(parse_assignment(a, "--producer-property") for a in args.producer_property)
    except PropertyError as exc:
        print(f"o365norm kafka: {exc}", file=sys.stderr)
        return exit_codes.USAGE
    if args.stop_when_idle is not None and args.stop_when_idle <= 0:
        print("o365norm kafka: --stop-when-idle must be a positive number of seconds", file=sys.stderr)
        return exit_codes.USAGE
    settings = StageSettings(args.bootstrap_servers, args.group, args.topics, args.output_topic, args.dead_letter_topic,
                             props, consumer, producer, nested=args.nested, stop_when_idle=args.stop_when_idle)
    try:
        settings.consumer_config()
    except StageError as exc:
        print(f"o365norm kafka: {exc}", file=sys.stderr)
        return exit_codes.USAGE
    ruleset = load_rules(args)

    def log(text: str) -> None:
        if not args.quiet or text.startswith(("warning:", "error:")):
            print(f"o365norm kafka: {text}", file=sys.stderr, flush=True)

    try:
        stage = KafkaStage(settings, ruleset, log)
        stage.run()
    except KafkaUnavailable as exc:
        print(f"o365norm kafka: {exc}", file=sys.stderr)
        return exit_codes.USAGE
    except StageError as exc:
        print(f"o365norm kafka: {exc}", file=sys.stderr)
        return exit_codes.USAGE
    print(f"o365norm kafka: {stage.summary()}", file=sys.stderr)
    return exit_codes.REJECTS if stage.failure else exit_codes.OK
