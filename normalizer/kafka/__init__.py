"""Kafka: the ``o365norm kafka`` stage (consume raw records, produce normalized ones) and the
client settings shared with the fetcher's ``output:Kafka:<id>`` section.

confluent-kafka (librdkafka) is an optional extra, imported only when Kafka is used, so the
base install never needs it.
"""

from __future__ import annotations

INSTALL_HINT = "Kafka support needs the confluent-kafka package: pip install 'o365norm[kafka]'"


class KafkaUnavailable(Exception):
    """confluent-kafka is not installed."""


def client_module():
    """The confluent_kafka module, or KafkaUnavailable with the install command."""
    try:
        import confluent_kafka
    except ImportError:
        raise KafkaUnavailable(INSTALL_HINT) from None
    return confluent_kafka
