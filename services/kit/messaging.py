"""Runs a component's outbox relay and event consumer beside its HTTP app, restarting them
after broker or database outages, and tells readiness whether the broker answers."""

import asyncio
from functools import partial

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from events import kafka
from events.consumer import EventConsumer
from events.metrics import BROKER_REACHABLE
from events.outbox import Outbox
from services.kit.settings import ComponentSettings
from services.kit.supervise import supervise

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
        settings: ComponentSettings,
        uses_broker: bool,
    ):
        self.component = component
        self.kafka = kafka_connection
        self.engine = engine
        self.outbox = outbox
        self.consumer = consumer
        self.settings = settings
        self.uses_broker = uses_broker
        self._tasks: list[asyncio.Task] = []

    def start(self) -> None:
        if self.outbox is not None:
            self._tasks.append(asyncio.create_task(supervise("outbox_relay", partial(self._relay, self.outbox))))
        if self.consumer is not None:
            self._tasks.append(asyncio.create_task(supervise("event_consumer", partial(self._consume, self.consumer))))
        if self.uses_broker:
            self._tasks.append(asyncio.create_task(self._probe_broker(self.settings.kafka_probe_interval_seconds)))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    async def _relay(self, outbox: Outbox) -> None:
        s = self.settings
        producer = kafka.producer(
            self.kafka,
            f"{self.component}-relay",
            linger_ms=s.kafka_linger_ms,
            max_batch_bytes=s.kafka_max_batch_bytes,
            request_timeout_ms=s.kafka_request_timeout_ms,
        )
        await producer.start()
        try:
            await outbox.run_relay(
                self.engine,
                producer,
                s.outbox_poll_interval,
                batch_size=s.outbox_batch_size,
                backlog_interval=s.outbox_backlog_interval_seconds,
            )
        finally:
            await kafka.stopped(producer.stop())

    async def _consume(self, event_consumer: EventConsumer) -> None:
        consumer = kafka.consumer(
            self.kafka,
            self.component,
            event_consumer.topic_names,
            fetch_max_wait_ms=self.settings.kafka_fetch_max_wait_ms,
            max_poll_records=self.settings.kafka_max_poll_records,
            session_timeout_ms=self.settings.kafka_session_timeout_ms,
        )
        dead_letters = kafka.producer(self.kafka, f"{self.component}-dead-letters")
        await dead_letters.start()
        try:
            await consumer.start()
            try:
                await event_consumer.run(consumer, dead_letters)
            finally:
                await kafka.stopped(consumer.stop())
        finally:
            await kafka.stopped(dead_letters.stop())

    async def _probe_broker(self, interval: float) -> None:
        """Broker reachability as a metric (alerted), not as readiness: the outbox absorbs outages."""
        while True:
            BROKER_REACHABLE.labels(self.component).set(1 if await self.broker_reachable() else 0)
            await asyncio.sleep(interval)

    async def broker_reachable(self, timeout: float = 3.0) -> bool:
        client = kafka.client(self.kafka, f"{self.component}-probe")
        try:
            async with asyncio.timeout(timeout):  # not wait_for: see events.kafka.stopped
                await client.bootstrap()
            return True
        except Exception:
            return False
        finally:
            await client.close()
