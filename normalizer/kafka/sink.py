"""A Kafka producer that reports, at ``flush``, whether everything sent since the last flush
reached the broker: what the fetcher's ``output:Kafka`` needs before it saves progress.

The producer is idempotent with ``acks=all`` (both can be overridden through properties), so
librdkafka's own retries neither lose nor reorder records; a record it gives up on makes
``flush`` raise, the fetcher does not save progress, and the batch is fetched and sent again.
"""

from __future__ import annotations

from . import client_module
from .properties import scrub


def produce_waiting(producer, topic: str, value: bytes, key: bytes | None, on_delivery) -> None:
    """``producer.produce``, waiting while the local queue is full (deliveries drain meanwhile);
    any other refusal (too large, unknown topic) raises KafkaException as produce does."""
    while True:
        try:
            producer.produce(topic, value, key, on_delivery=on_delivery)
            return
        except BufferError:
            producer.poll(0.1)


class SinkError(Exception):
    """Records did not reach Kafka; the message says why (secrets removed)."""


class KafkaSink:
    def __init__(self, bootstrap_servers: str, topic: str, properties: dict[str, str], flush_timeout: float = 60.0):
        ck = client_module()
        self.topic = topic
        self.flush_timeout = flush_timeout
        self._props = properties
        self._failures: list[str] = []
        conf = {"bootstrap.servers": bootstrap_servers, "client.id": "o365norm-fetch", "enable.idempotence": "true",
                "acks": "all", "linger.ms": "20", **properties}
        try:
            self._producer = ck.Producer(conf)
        except ck.KafkaException as exc:
            raise SinkError(f"Kafka client settings: {self._clean(exc.args[0] if exc.args else exc)}") from None

    def _clean(self, text) -> str:
        return scrub(str(text), self._props)

    def _on_delivery(self, err, msg) -> None:
        if err is not None and len(self._failures) < 5:
            self._failures.append(self._clean(err.str()))

    def send(self, pairs) -> None:
        """Queue (key, value) pairs; blocks while librdkafka's local queue is full."""
        for key, value in pairs:
            produce_waiting(self._producer, self.topic, value, key, self._on_delivery)
        self._producer.poll(0)

    def flush(self) -> None:
        """Wait until the broker acknowledged every record sent; SinkError if any did not arrive."""
        left = self._producer.flush(self.flush_timeout)
        failures, self._failures = self._failures, []
        if left:
            raise SinkError(f"{left} records not acknowledged by Kafka within {self.flush_timeout:g} s")
        if failures:
            raise SinkError("delivery failed: " + "; ".join(failures))

    def close(self) -> None:
        """Everything the fetcher counted as delivered was flushed already; what is still queued
        was never covered by saved progress, so a short wait is enough."""
        self._producer.flush(min(self.flush_timeout, 5.0))
