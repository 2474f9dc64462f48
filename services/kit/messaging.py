"""Runs a component's outbox relay and event consumer beside its HTTP app, restarting them
after broker or database outages, and tells readiness whether the broker answers."""

import asyncio
from collections.abc import Awaitable, Callable

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from events import kafka
from events.consumer import EventConsumer
from events.metrics import BROKER_REACHABLE
from events.outbox import Outbox

log = structlog.get_logger(__name__)


class Messaging:
    def __init__(
        self,
        *,
        component: str,
        kafka_connection: kafka.Connection,
        engine: AsyncEngine,
        outbox: Outbox | None,
        consumer: EventConsumer | None,
        poll_interval: float,
        uses_broker: bool,
    ):
        self.component = component
        self.kafka = kafka_connection
        self.engine = engine
        self.outbox = outbox
        self.consumer = consumer
        self.poll_interval = poll_interval
        self.uses_broker = uses_broker
        self._tasks: list[asyncio.Task] = []

    def start(self) -> None:
        if self.outbox is not None:
            self._tasks.append(asyncio.create_task(self._supervise("outbox_relay", self._relay)))
        if self.consumer is not None:
            self._tasks.append(asyncio.create_task(self._supervise("event_consumer", self._consume)))
        if self.uses_broker:
            self._tasks.append(asyncio.create_task(self._probe_broker()))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    async def _supervise(self, name: str, loop: Callable[[], Awaitable[None]]) -> None:
        backoff = 0.5
        while True:
            try:
                await loop()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("messaging_restart", loop=name, error_type=type(exc).__name__, retry_in_s=backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    async def _relay(self) -> None:
        producer = kafka.producer(self.kafka, f"{self.component}-relay")
        await producer.start()
        try:
            await self.outbox.run_relay(self.engine, producer, self.poll_interval)
        finally:
            await producer.stop()

    async def _consume(self) -> None:
        consumer = kafka.consumer(self.kafka, self.component, self.consumer.topic_names)
        dead_letters = kafka.producer(self.kafka, f"{self.component}-dead-letters")
        await dead_letters.start()
        try:
            await consumer.start()
            try:
                await self.consumer.run(consumer, dead_letters)
            finally:
                await consumer.stop()
        finally:
            await dead_letters.stop()

    async def _probe_broker(self, interval: float = 15.0) -> None:
        """Broker reachability as a metric (alerted), not as readiness: the outbox absorbs outages."""
        while True:
            BROKER_REACHABLE.labels(self.component).set(1 if await self.broker_reachable() else 0)
            await asyncio.sleep(interval)

    async def broker_reachable(self, timeout: float = 3.0) -> bool:
        client = kafka.client(self.kafka, f"{self.component}-probe")
        try:
            await asyncio.wait_for(client.bootstrap(), timeout)
            return True
        except Exception:
            return False
        finally:
            await client.close()
