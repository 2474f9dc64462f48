"""Idempotent consumers: each event's effect and its inbox row commit in one transaction, and
the offset is committed only after that. A redelivered event finds its inbox row and is skipped.

A message that cannot be handled (not an envelope, no contract, invalid payload, or a handler
that rejects it or keeps failing) goes to the dead-letter topic with the reason, and the
consumer moves on. While the database is unreachable the consumer waits and retries instead.
"""

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, cast

import sqlalchemy as sa
import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from pydantic import ValidationError
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from events import tracing
from events.contracts import UnknownEvent, parse_payload, topics
from events.contracts.envelope import Envelope
from events.metrics import CONSUMED, CONSUMER_LAG
from events.store import upsert_insert
from events.tracing import current_trace_id
from services.kit.clock import now

log = structlog.get_logger(__name__)

# Called with the payload of the contract its event type names (a subclass of Payload).
Handler = Callable[[AsyncSession, Envelope, Any], Awaitable[None]]
MAX_HANDLER_ATTEMPTS = 3


class RejectEvent(Exception):
    """Raised by a handler for an event it can never apply; the event goes to the dead-letter topic."""


def _is_transient(exc: BaseException) -> bool:
    if isinstance(exc, (OperationalError, InterfaceError, ConnectionError, OSError, TimeoutError)):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


def _describe_validation(exc: ValidationError) -> str:
    # Field paths and messages only: the rejected values could be personal data.
    return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors(include_input=False))[:500]


class EventConsumer:
    """Consumes `handlers`' event types for one component (its consumer group)."""

    def __init__(
        self,
        *,
        group_id: str,
        handlers: dict[str, Handler],
        topic_names: list[str],
        inbox: sa.Table,
        sessions: async_sessionmaker[AsyncSession],
    ):
        self.group_id = group_id
        self.handlers = handlers
        self.topic_names = topic_names
        self.inbox = inbox
        self.sessions = sessions

    async def run(self, consumer: AIOKafkaConsumer, producer: AIOKafkaProducer) -> None:
        while True:
            batches = await consumer.getmany(timeout_ms=500)
            for partition, records in batches.items():
                await self._handle_partition(consumer, producer, partition, records)

    async def _handle_partition(
        self,
        consumer: AIOKafkaConsumer,
        producer: AIOKafkaProducer,
        partition: TopicPartition,
        records: list[ConsumerRecord],
    ) -> None:
        for record in records:
            with tracing.consuming(record, self.group_id):  # continues the producer's trace
                await self._handle_with_retries(producer, record)
        # Commit after the effects: a crash before this line redelivers, and the inbox skips them.
        await consumer.commit({partition: records[-1].offset + 1})
        end = consumer.highwater(partition)
        if end is not None:
            CONSUMER_LAG.labels(self.group_id, partition.topic, str(partition.partition)).set(
                max(end - records[-1].offset - 1, 0)
            )

    async def _handle_with_retries(self, producer: AIOKafkaProducer, record: ConsumerRecord) -> None:
        attempt = 0
        while True:
            attempt += 1
            try:
                await self.handle(record)
                return
            except asyncio.CancelledError:
                raise
            except RejectEvent as exc:
                await self.dead_letter(producer, record, str(exc))
                return
            except Exception as exc:
                if _is_transient(exc):
                    # Database away: do not dead-letter, wait and try the same record again.
                    log.warning("consumer_transient_error", group=self.group_id, error_type=type(exc).__name__)
                    await asyncio.sleep(min(0.5 * attempt, 5.0))
                elif attempt >= MAX_HANDLER_ATTEMPTS:
                    log.exception("consumer_handler_failed", group=self.group_id)
                    await self.dead_letter(producer, record, f"handler failed {attempt} times: {type(exc).__name__}")
                    return

    async def handle(self, record: ConsumerRecord) -> None:
        """Apply one record at most once; raises RejectEvent for a record that can never apply."""
        try:
            envelope = Envelope.model_validate_json(record.value)
        except ValidationError as exc:
            raise RejectEvent(f"not an event envelope: {_describe_validation(exc)}") from None
        await self.apply(envelope)

    async def apply(self, envelope: Envelope) -> None:
        """Apply one event at most once (its effect and its inbox row in one transaction); raises
        RejectEvent for an event that can never apply. Tests of one service call this directly."""
        handler = self.handlers.get(envelope.type)
        if handler is None:
            CONSUMED.labels(self.group_id, envelope.type, "ignored").inc()
            return  # another type on a topic we read; not ours to apply
        try:
            payload = parse_payload(envelope)
        except UnknownEvent as exc:
            raise RejectEvent(str(exc)) from None
        except ValidationError as exc:
            raise RejectEvent(
                f"{envelope.type} v{envelope.version} payload invalid: {_describe_validation(exc)}"
            ) from None

        token = current_trace_id.set(envelope.trace_id or str(envelope.id))
        try:
            async with self.sessions() as session, session.begin():
                if not await self._record_in_inbox(session, envelope):
                    log.info("event_duplicate_skipped", group=self.group_id, event_type=envelope.type)
                    CONSUMED.labels(self.group_id, envelope.type, "duplicate").inc()
                    return
                await handler(session, envelope, payload)
            CONSUMED.labels(self.group_id, envelope.type, "applied").inc()
        finally:
            current_trace_id.reset(token)

    async def _record_in_inbox(self, session: AsyncSession, envelope: Envelope) -> bool:
        """Insert the event id; False when it was already there (the event was applied before)."""
        statement = (
            upsert_insert(session, self.inbox)
            .values(event_id=str(envelope.id), event_type=envelope.type, handled_at=now())
            .on_conflict_do_nothing(index_elements=["event_id"])
        )
        result = cast(CursorResult, await session.execute(statement))  # an INSERT's result has a rowcount
        return result.rowcount == 1

    async def dead_letter(self, producer: AIOKafkaProducer, record: ConsumerRecord, reason: str) -> None:
        headers = [
            *list(record.headers or []),
            ("dlq_reason", reason.encode()),
            ("dlq_consumer_group", self.group_id.encode()),
            ("dlq_topic", record.topic.encode()),
            ("dlq_partition", str(record.partition).encode()),
            ("dlq_offset", str(record.offset).encode()),
        ]
        await producer.send_and_wait(topics.DEAD_LETTER, key=record.key, value=record.value, headers=headers)
        CONSUMED.labels(
            self.group_id, dict(record.headers or []).get("event_type", b"unknown").decode(), "dead_lettered"
        ).inc()
        log.warning("event_dead_lettered", group=self.group_id, topic=record.topic, offset=record.offset, reason=reason)
