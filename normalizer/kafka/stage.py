"""The Kafka stage: consume raw records as a member of a consumer group, produce normalized
records to the output topic and rejects to the dead-letter topic, commit only what is safe.

Delivery is at-least-once.  Auto-commit is off; an offset is committed only after every
message produced from it, and from every message before it in its partition, has been
acknowledged by the broker (``offsets.PartitionProgress``).  Killed at any point, the stage
re-delivers from the last commit on restart and never skips.  On SIGTERM or SIGINT it stops
consuming, waits for outstanding deliveries, commits and leaves the group.  When partitions are
taken away in a rebalance it does the same for them before they go.  A delivery that fails for
good (after librdkafka's own retries) stops the stage with exit code 1, the commit point left
before the failed record.

Scaling is Kafka's: start more instances with the same ``--group``; the partitions of the
input topics are split between them.
"""

from __future__ import annotations

import signal
import time
from dataclasses import dataclass, field

import orjson

from ..pipeline import Counts, render
from ..readers import Reject
from ..ruleset import Ruleset
from . import client_module
from .messages import dead_letter, items_of, record_key, source_label
from .offsets import PartitionProgress
from .properties import describe, scrub
from .sink import produce_waiting

_OUTPUT_OPTIONS = orjson.OPT_SORT_KEYS
_FORCED_CONSUMER = {"enable.auto.commit": "false", "enable.auto.offset.store": "false"}


class StageError(Exception):
    """The stage cannot go on (bad client settings, a failed delivery, a fatal client error)."""


@dataclass
class StageSettings:
    bootstrap_servers: str
    group: str
    topics: list[str]
    output_topic: str
    dead_letter_topic: str
    properties: dict[str, str] = field(default_factory=dict)  # both clients
    consumer_properties: dict[str, str] = field(default_factory=dict)
    producer_properties: dict[str, str] = field(default_factory=dict)
    nested: bool = False
    stop_when_idle: float | None = None  # seconds without a message, once partitions are assigned
    commit_interval: float = 1.0
    batch: int = 500

    def consumer_config(self) -> dict[str, str]:
        conf = {"bootstrap.servers": self.bootstrap_servers, "group.id": self.group, "auto.offset.reset": "earliest",
                "client.id": "o365norm", **self.properties, **self.consumer_properties}
        for key, value in _FORCED_CONSUMER.items():
            given = str(conf.get(key, value)).lower()
            if given != value:
                raise StageError(f"{key}={given} would commit offsets before the records are delivered; "
                                 "o365norm commits them itself, after the broker has acknowledged the output")
            conf[key] = value
        return conf

    def producer_config(self) -> dict[str, str]:
        return {"bootstrap.servers": self.bootstrap_servers, "client.id": "o365norm", "enable.idempotence": "true",
                "acks": "all", "linger.ms": "20", **self.properties, **self.producer_properties}

    def all_properties(self) -> dict[str, str]:
        return {**self.properties, **self.consumer_properties, **self.producer_properties}


class _Delivery:
    """The delivery callback of everything produced from one consumed message."""

    __slots__ = ("stage", "progress", "offset", "source")

    def __init__(self, stage: "KafkaStage", progress: PartitionProgress, offset: int, source: str):
        self.stage = stage
        self.progress = progress
        self.offset = offset
        self.source = source

    def __call__(self, err, msg) -> None:
        if err is None:
            self.progress.delivered(self.offset)
        else:
            self.progress.fail()
            self.stage.delivery_failed(self.source, msg.topic(), err)


class KafkaStage:
    def __init__(self, settings: StageSettings, ruleset: Ruleset, log=None):
        self.settings = settings
        self.ruleset = ruleset
        self.log = log or (lambda text: None)
        self.counts = Counts()
        self.messages = 0
        self.progress: dict[tuple[str, int], PartitionProgress] = {}
        self.failure: str | None = None
        self.stopping = False
        self._last_activity: float | None = None  # set at the first assignment
        self._first_message: float | None = None
        self._last_message: float | None = None
        self._ck = client_module()
        self._secrets = settings.all_properties()
        self.consumer = None
        self.producer = None

    # -- lifecycle -------------------------------------------------------------------------
    def run(self) -> None:
        """Consume until stopped (signal, ``stop_when_idle``) or a fatal error (StageError)."""
        s = self.settings
        ck = self._ck
        try:
            self.producer = ck.Producer({**s.producer_config(), "error_cb": self._client_error})
            self.consumer = ck.Consumer({**s.consumer_config(), "error_cb": self._client_error})
        except ck.KafkaException as exc:
            raise StageError(f"Kafka client settings: {self._clean(exc.args[0] if exc.args else exc)}") from None
        self.log(f"consuming {', '.join(s.topics)} as group {s.group} from {s.bootstrap_servers}; "
                 f"records -> {s.output_topic}, rejects -> {s.dead_letter_topic}"
                 + (f"; client settings: {describe(s.all_properties())}" if s.all_properties() else ""))
        previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            self.consumer.subscribe(s.topics, on_assign=self._on_assign, on_revoke=self._on_revoke, on_lost=self._on_lost)
            self._loop()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self._close()

    def _on_signal(self, signum, frame) -> None:
        self.stopping = True

    def _loop(self) -> None:
        s = self.settings
        consume = self.consumer.consume
        poll = self.producer.poll
        next_commit = time.monotonic() + s.commit_interval
        while not self.stopping and self.failure is None:
            msgs = consume(s.batch, 0.2)
            for msg in msgs:
                if msg.error() is not None:
                    self._consumer_error(msg.error())
                else:
                    self._handle(msg)
            poll(0)
            now = time.monotonic()
            if msgs:
                self._last_activity = self._last_message = now
                if self._first_message is None:
                    self._first_message = now
            if now >= next_commit:
                self.commit()
                next_commit = now + s.commit_interval
            if (s.stop_when_idle is not None and self._last_activity is not None and not msgs
                    and now - self._last_activity >= s.stop_when_idle and not self._in_flight()):
                self.log(f"no message for {s.stop_when_idle:g} s; stopping")
                break

    def _close(self) -> None:
        """Wait for outstanding deliveries, commit what they completed, leave the group."""
        if self.producer is not None:
            left = self.producer.flush(30)
            if left:
                self._fail(f"{left} produced messages were not acknowledged within 30 s; "
                           "their input offsets are not committed and will be consumed again")
        if self.consumer is not None:
            try:
                self.commit()
            finally:
                self.consumer.close()

    # -- records ---------------------------------------------------------------------------
    def _handle(self, msg) -> None:
        topic, partition, offset = msg.topic(), msg.partition(), msg.offset()
        progress = self.progress.get((topic, partition))
        if progress is None:
            progress = self.progress[(topic, partition)] = PartitionProgress()
        self.messages += 1
        source = source_label(topic, partition, offset)
        items = items_of(msg.value(), source)
        progress.consumed(offset, len(items))
        if not items:
            return
        delivery = _Delivery(self, progress, offset, source)
        counts = self.counts
        normalize = self.ruleset.normalize if self.settings.nested else self.ruleset.normalize_flat
        for item in items:
            counts.records_in += 1
            if item.__class__ is Reject:
                self._reject(item, topic, partition, offset, delivery)
                continue
            line, record = item
            data, warnings = render(normalize, record, source, line, self.settings.nested, _OUTPUT_OPTIONS)
            if data.__class__ is Reject:
                self._reject(data, topic, partition, offset, delivery)
                continue
            if warnings:
                counts.with_warnings += 1
            problem = self._produce(self.settings.output_topic, data, record_key(record), delivery)
            if problem is None:
                counts.records_out += 1
            else:  # e.g. larger than the topic's message.max.bytes: dead-letter the raw record
                raw = orjson.dumps(record, default=str).decode("utf-8", "replace")
                self._reject(Reject(source, line, f"cannot produce the normalized record: {problem}", raw),
                             topic, partition, offset, delivery)

    def _reject(self, reject: Reject, topic: str, partition: int, offset: int, delivery: _Delivery) -> None:
        self.counts.rejected += 1
        problem = self._produce(self.settings.dead_letter_topic, dead_letter(reject, topic, partition, offset),
                                f"{topic}/{partition}/{offset}".encode(), delivery)
        if problem is not None:  # its delivery never completes, so the offset is never committed
            delivery.progress.fail()
            self._fail(f"cannot produce a reject of {reject.source} to {self.settings.dead_letter_topic}: {problem}")

    def _produce(self, topic: str, value: bytes, key: bytes, delivery: _Delivery) -> str | None:
        """Queue one message; the client's reason if it refuses it outright (too large, unknown topic)."""
        try:
            produce_waiting(self.producer, topic, value, key, delivery)
            return None
        except self._ck.KafkaException as exc:
            err = exc.args[0] if exc.args else exc
            return self._clean(err.str() if hasattr(err, "str") else err)

    # -- offsets ---------------------------------------------------------------------------
    def commit(self, only: set[tuple[str, int]] | None = None) -> None:
        """Commit every partition's commit point that moved (synchronously: a rebalance or
        shutdown must know it is stored)."""
        ck = self._ck
        offsets, marks = [], []
        for tp, progress in self.progress.items():
            if only is not None and tp not in only:
                continue
            point = progress.commit_point()
            if point is not None:
                offsets.append(ck.TopicPartition(tp[0], tp[1], point))
                marks.append((progress, point))
        if not offsets:
            return
        try:
            self.consumer.commit(offsets=offsets, asynchronous=False)
        except ck.KafkaException as exc:  # e.g. a rebalance under way: the next commit (or the new owner) covers it
            self.log(f"warning: commit failed, will retry: {self._clean(exc.args[0] if exc.args else exc)}")
            return
        for progress, point in marks:
            progress.mark_committed(point)

    def _in_flight(self) -> bool:
        return any(p.in_flight for p in self.progress.values())

    # -- rebalances ------------------------------------------------------------------------
    def _on_assign(self, consumer, partitions) -> None:
        self._last_activity = time.monotonic()
        self.log("assigned " + _partitions(partitions))

    def _on_revoke(self, consumer, partitions) -> None:
        """Before partitions go to another member: deliver and commit what was consumed from them."""
        if partitions:
            self.producer.flush(30)
            gone = {(p.topic, p.partition) for p in partitions}
            self.commit(gone)
            for tp in gone:
                self.progress.pop(tp, None)
            self.log("revoked " + _partitions(partitions))

    def _on_lost(self, consumer, partitions) -> None:
        """Partitions lost without a clean handover: another member owns them now; what was not
        committed will be consumed again there."""
        for p in partitions:
            self.progress.pop((p.topic, p.partition), None)
        self.log("warning: lost " + _partitions(partitions) + " (their uncommitted records will be consumed again)")

    # -- errors ----------------------------------------------------------------------------
    def delivery_failed(self, source: str, topic: str, err) -> None:
        self._fail(f"delivery to {topic} failed for a record of {source}: {self._clean(err.str())}; "
                   "the offsets from there on are not committed and will be consumed again after a restart")

    def _consumer_error(self, err) -> None:
        if err.code() == self._ck.KafkaError._PARTITION_EOF:
            return
        if err.fatal():
            self._fail(f"consumer: {self._clean(err.str())}")
        else:
            self.log(f"warning: consumer: {self._clean(err.str())}")

    def _client_error(self, err) -> None:
        if err.fatal():
            self._fail(f"Kafka client: {self._clean(err.str())}")
        elif err.code() in (self._ck.KafkaError._ALL_BROKERS_DOWN, self._ck.KafkaError._TRANSPORT):
            self.log(f"warning: {self._clean(err.str())} (retrying)")

    def _fail(self, text: str) -> None:
        if self.failure is None:
            self.failure = text
            self.log("error: " + text)

    def _clean(self, text) -> str:
        return scrub(str(text), self._secrets)

    def summary(self) -> str:
        c = self.counts
        text = (f"{self.messages} messages, {c.records_in} records in, {c.records_out} out, "
                f"{c.rejected} to the dead-letter topic, {c.with_warnings} with warnings")
        if self._first_message is not None and self._last_message > self._first_message:
            busy = self._last_message - self._first_message
            text += f"; {busy:.1f} s from the first message to the last ({c.records_in / busy:,.0f} records/s)"
        return text


def _partitions(partitions) -> str:
    by_topic: dict[str, list[int]] = {}
    for p in partitions:
        by_topic.setdefault(p.topic, []).append(p.partition)
    return "; ".join(f"{t} partitions {','.join(map(str, sorted(ps)))}" for t, ps in sorted(by_topic.items())) or "nothing"
