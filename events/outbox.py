"""Transactional outbox: write an event in the same transaction as the change it describes;
a relay publishes committed events to Kafka in commit order and marks them sent.

At-least-once: a relay that dies between publishing and marking re-sends; consumers drop the
duplicate by event id (events.consumer). Nothing committed is lost: an unsent row stays until
the broker takes it.
"""

import asyncio
import contextlib
import functools
import re
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
import structlog
from aiokafka import AIOKafkaProducer
from pydantic_core import to_json
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from events import tracing
from events.contracts import Payload, event_type, new_event, topics
from events.contracts.envelope import Envelope
from events.kafka import event_headers
from events.metrics import OUTBOX_BACKLOG, PUBLISHED
from events.tracing import current_trace_id
from services.kit.clock import now
from services.kit.db import HeldBack, call_after_commit, insert_many, one_of, wake_after_commit
from services.kit.supervise import Backoff

log = structlog.get_logger(__name__)

# Events per relay transaction (one read, one batch handed to the producer, one update); the
# default of the components' `outbox_batch_size` setting (services/kit/settings.py).
RELAY_BATCH_SIZE = 2000


class Outbox:
    """One component's outbox table, with the writer used inside transactions and the relay."""

    def __init__(self, table: sa.Table, *, source: str):
        self.table = table
        self.source = source  # the component whose events these are
        self._wake = asyncio.Event()
        # Told the customers of the events of each transaction of this process that commits
        # (`committed_listener`): a replica's own changes reach its caches at once, before
        # their events come back from the broker.
        self._commit_listeners: list[Callable[[set[str]], None]] = []

    async def emit(self, session: AsyncSession, name: str, payload: Payload, *, version: int = 1) -> Envelope:
        """Stage event `name` in the caller's transaction; it is published only if that commits."""
        envelope = new_event(name, payload, source=self.source, version=version, **_trace())
        await self._insert(session, [envelope])
        return envelope

    async def emit_many(self, session: AsyncSession, events: Sequence[tuple[str, Payload]]) -> None:
        """Stage many events in one round trip (bulk operations), in the order given."""
        if events:
            await self._stage(session, self.rows_for(events))

    def rows_for(self, events: Sequence[tuple[str, Payload]]) -> list[dict]:
        """The outbox rows of these events (for `emit_many`, or a `held_back` of a bulk import).
        Each row's envelope is written straight from its payload in the form
        `Envelope.model_dump_json` gives (new_event's checks once per type, no envelope object
        per event)."""
        trace = _trace()
        moment = datetime.now(UTC)
        contracts: dict[str, type[Payload]] = {}
        rows = []
        for name, payload in events:
            contract = contracts.get(name)
            if contract is None:
                contract = contracts[name] = event_type(name, 1).payload
                self._check_topic(name, 1)
            if not isinstance(payload, contract):
                raise TypeError(f"{name} v1 takes {contract.__name__}, not {type(payload).__name__}")
            event_id = uuid.uuid4()
            customer_id: str = vars(payload)["customer_id"]  # every contract's payload names its customer
            rows.append(
                self._row(
                    str(event_id),
                    name,
                    1,
                    customer_id,
                    envelope_json(event_id, name, self.source, moment, customer_id, trace, payload),
                    moment,
                )
            )
        return rows

    @contextlib.contextmanager
    def committed_listener(self, listener: Callable[[set[str]], None]):
        """While in this block, `listener` is called with the customers whose events a
        transaction staged (through `emit` or `emit_many`), as that transaction commits."""
        self._commit_listeners.append(listener)
        try:
            yield
        finally:
            self._commit_listeners.remove(listener)

    def held_back(self) -> HeldBack:
        """Where a long transaction stages its events (rows from `rows_for`) until it releases
        them just before it commits (services/kit/db.py)."""
        return HeldBack(self.table, self._wake)

    async def _insert(self, session: AsyncSession, envelopes: list[Envelope]) -> None:
        for kind in {(envelope.type, envelope.version) for envelope in envelopes}:
            self._check_topic(*kind)
        await self._stage(
            session,
            [self._row(str(e.id), e.type, e.version, e.customer_id, e.model_dump_json(), e.time) for e in envelopes],
        )

    def _check_topic(self, name: str, version: int) -> None:
        topic = event_type(name, version).topic
        if topics.PRODUCER.get(topic) != self.source:
            # The ACLs let a component write only its own topics (events.contracts.topics).
            raise ValueError(f"{self.source} does not publish on {topic} ({name})")

    @staticmethod
    def _row(event_id: str, name: str, version: int, customer_id: str, payload: str, at: datetime) -> dict:
        return {
            "id": event_id,
            # Debezium's outbox router routes by aggregate type: the event's subject.
            "aggregatetype": name.split(".", 1)[0],
            "aggregateid": customer_id,
            "type": f"{name}.v{version}",
            "payload": payload,
            "created_at": at,
        }

    async def _stage(self, session: AsyncSession, rows: list[dict]) -> None:
        await insert_many(session, self.table, rows)
        # The relay in this process may publish once they commit; other relays find them by polling.
        wake_after_commit(session, self._wake)
        if self._commit_listeners:
            customers = {row["aggregateid"] for row in rows}
            for listener in list(self._commit_listeners):
                call_after_commit(session, functools.partial(listener, customers))

    async def pending(self, engine: AsyncEngine) -> int:
        async with engine.connect() as connection:
            result = await connection.execute(
                sa.select(sa.func.count()).select_from(self.table).where(self.table.c.sent_at.is_(None))
            )
            return result.scalar_one()

    async def relay_once(
        self, engine: AsyncEngine, producer: AIOKafkaProducer, batch_size: int = RELAY_BATCH_SIZE
    ) -> int:
        """Publish up to `batch_size` unsent events in commit order; returns how many were sent."""
        t = self.table
        async with engine.begin() as connection:
            if engine.dialect.name == "postgresql":
                # One active relay per database keeps one customer's events in commit order even
                # with several replicas; the others find the lock taken and wait for the next round.
                got_lock = await connection.scalar(sa.text("SELECT pg_try_advisory_xact_lock(hashtext('outbox'))"))
                if not got_lock:
                    return 0
            rows = (
                await connection.execute(
                    sa.select(t.c.position, t.c.id, t.c.aggregateid, t.c.type, t.c.payload)
                    .where(t.c.sent_at.is_(None))
                    .order_by(t.c.position)
                    .limit(batch_size)
                )
            ).all()
            if not rows:
                OUTBOX_BACKLOG.labels(self.source).set(0)
                return 0
            # The row's `type` column is "<event type>.v<version>" (see _insert): routed without
            # parsing the payload, and looked up once per type in the batch.
            routes: dict[str, tuple[str, str, str]] = {}
            published: Counter[str] = Counter()
            deliveries = []
            for row in rows:
                route = routes.get(row.type)
                if route is None:
                    name, version = row.type.rsplit(".v", 1)
                    route = routes[row.type] = (name, version, event_type(name, int(version)).topic)
                name, version, topic = route
                published[name] += 1
                # Queued without waiting for the broker: the producer sends the batch in a few requests.
                deliveries.append(
                    await producer.send(
                        topic,
                        key=row.aggregateid.encode(),
                        value=row.payload.encode(),
                        headers=[
                            *event_headers(row.id, name, version, self.source),
                            # traceparent: a producer span in the trace of the change that staged it
                            *tracing.publish_headers(_traceparent(row.payload), topic, row.id),
                        ],
                    )
                )
            # Raises if the broker did not take every one; the transaction then rolls back and
            # the rows stay unsent for the next attempt.
            await asyncio.gather(*deliveries)
            await connection.execute(
                t.update()
                .where(one_of(engine.dialect.name, t.c.position, [r.position for r in rows]))
                .values(sent_at=now())
            )
        for name, count in published.items():
            PUBLISHED.labels(self.source, name).inc(count)
        return len(rows)

    async def run_relay(
        self,
        engine: AsyncEngine,
        producer: AIOKafkaProducer,
        poll_interval: float,
        *,
        batch_size: int = RELAY_BATCH_SIZE,
        backlog_interval: float = 5.0,
    ) -> None:
        """Relay until cancelled, backing off while the broker or the database is unavailable.
        The backlog gauge is counted at most every `backlog_interval` seconds while batches
        are full (a count of unsent rows per batch would cost as much as the batch)."""
        backoff = Backoff(initial=poll_interval, maximum=5.0)
        counted_at = 0.0
        while True:
            try:
                sent = await self.relay_once(engine, producer, batch_size)
                backoff.reset()
                if sent == batch_size:
                    if time.monotonic() - counted_at >= backlog_interval:
                        OUTBOX_BACKLOG.labels(self.source).set(await self.pending(engine))
                        counted_at = time.monotonic()
                    continue
                if sent:
                    OUTBOX_BACKLOG.labels(self.source).set(0)
                    continue
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # broker or database down: keep the rows, try again later
                wait = backoff.next()
                log.warning("outbox_relay_retry", error_type=type(exc).__name__, retry_in_s=wait)
                with contextlib.suppress(Exception):  # the database may be the one that is down
                    OUTBOX_BACKLOG.labels(self.source).set(await self.pending(engine))
                await asyncio.sleep(wait)
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(poll_interval):  # not wait_for: see events.kafka.stopped
                    await self._wake.wait()


def envelope_json(
    event_id: uuid.UUID,
    name: str,
    source: str,
    at: datetime,
    customer_id: str,
    trace: dict[str, str | None],
    payload: Payload,
) -> str:
    """What `new_event(...).model_dump_json()` gives for version 1 of `name`, without building
    the envelope or a dict of the payload: the envelope's members, then the payload's own JSON
    in the place of the last member (`payload`)."""
    head = to_json(
        {
            "id": event_id,
            "type": name,
            "version": 1,
            "source": source,
            "time": at,
            "customer_id": customer_id,
            "trace_id": trace["trace_id"],
            "traceparent": trace["traceparent"],
            "payload": None,
        }
    )
    return (head[: -len(b"null}")] + payload.__pydantic_serializer__.to_json(payload) + b"}").decode()


_TRACEPARENT = re.compile(r'"traceparent":"([0-9a-f-]+)"')


def _traceparent(payload: str) -> str | None:
    """The envelope's traceparent, read without parsing the whole stored envelope."""
    found = _TRACEPARENT.search(payload)
    return found.group(1) if found else None


def _trace() -> dict:
    """The request id and trace context an event staged now carries."""
    return {"trace_id": current_trace_id.get(), "traceparent": tracing.current_traceparent()}
