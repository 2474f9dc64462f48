"""Follow a topic to keep a cache current: every replica reads every event (no consumer group)
and drops what each event names; the cache is trusted only while the follower can show it has
read everything published up to a moment less than `freshness_seconds` ago.

The proof: the follower asks the broker for the topics' high-water marks and has read up to them;
it was then current as of the moment it asked. A hung or unreachable broker (which still lets
empty polls return) stops the proofs, so within `freshness_seconds` every reader of the cache
goes to the source again (fail closed). `FollowedCache` is such a cache, per customer: the
gateway's permit cache and the consent service's decision index.
"""

import asyncio
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Generic, TypeVar

from aiokafka import AIOKafkaConsumer
from cachetools import TTLCache

from events import kafka
from events.contracts.envelope import Envelope

Key = TypeVar("Key")
Value = TypeVar("Value")


class TopicFollower:
    # How long the broker may take to tell the high-water marks before the proof lapses.
    OFFSETS_TIMEOUT_SECONDS = 0.5

    def __init__(
        self,
        bootstrap_servers: kafka.Connection | str,
        topic_names: Sequence[str],
        *,
        client_id: str,
        on_event: Callable[[Envelope], None],
        on_restart: Callable[[], None],
        freshness_seconds: float = 1.0,
    ):
        self.bootstrap_servers = bootstrap_servers
        self.topic_names = list(topic_names)
        self.client_id = client_id
        self.on_event = on_event
        # Events missed while disconnected cannot be replayed (it starts at "latest"): the cache
        # starts afresh each time the follower does, once its place on the topic is fixed (its
        # first proof; "latest" is looked up on the first fetch, not when it starts).
        self.on_restart = on_restart
        self.freshness_seconds = freshness_seconds
        # When the follower was last shown to have read every event published by then.
        self._current_as_of = float("-inf")

    def current(self) -> bool:
        return time.monotonic() - self._current_as_of < self.freshness_seconds

    async def follow(self) -> None:
        """Runs until cancelled or the broker fails it (its owner supervises it: started again
        after a wait)."""
        consumer = kafka.consumer(
            self.bootstrap_servers,
            None,
            self.topic_names,
            auto_offset_reset="latest",
            client_id=self.client_id,
            fetch_max_wait_ms=500,
            max_poll_records=None,  # the library's defaults
        )
        try:
            await consumer.start()
            started_afresh = False
            while True:
                batch = await consumer.getmany(timeout_ms=100)
                for records in batch.values():
                    for record in records:
                        try:
                            envelope = Envelope.model_validate_json(record.value)
                        except ValueError:
                            continue  # not an envelope: it names nothing to drop
                        self.on_event(envelope)
                if await self._prove_current(consumer) and not started_afresh:
                    self.on_restart()  # before any reader sees the proof (no await in between)
                    started_afresh = True
        finally:
            self._current_as_of = float("-inf")
            await kafka.stopped(consumer.stop())

    async def _prove_current(self, consumer: AIOKafkaConsumer) -> bool:
        """Ask the broker for the topics' high-water marks; if the consumer has read up to them,
        it has seen every event published before the question was asked."""
        asked_at = time.monotonic()
        partitions = consumer.assignment()
        if not partitions:
            return False
        try:
            async with asyncio.timeout(self.OFFSETS_TIMEOUT_SECONDS):  # not wait_for: see events.kafka.stopped
                ends = await consumer.end_offsets(list(partitions))
        except TimeoutError:
            return False  # a hung broker proves nothing: the cache lapses
        for partition, end in ends.items():
            if await consumer.position(partition) < end:
                return False  # events remain to read: the next round proves it
        self._current_as_of = asked_at
        return True


class FollowedCache(Generic[Key, Value]):
    """Values per customer and key, kept current by a `TopicFollower` of topics whose events
    name the customer they concern: an event drops everything held of its customer, a restart
    of the follower drops everything. A value is handed out only while the follower is
    provably current (otherwise the caller asks the source). A value read before any drop is not
    kept after it: the reader takes `epoch` before it reads and passes it to `keep`. Bounded:
    the least recently used customers go first, and each value lives `ttl_seconds`, a customer's
    entry as long as its newest value. Used by the gateway's permit cache and the consent
    service's decision index."""

    def __init__(
        self,
        bootstrap_servers: kafka.Connection | str,
        topic_names: Sequence[str],
        *,
        client_id: str,
        customers: int,
        per_customer: int,
        ttl_seconds: float,
        freshness_seconds: float = 1.0,
    ):
        self.per_customer, self.ttl_seconds = per_customer, ttl_seconds
        self._held: TTLCache[str, TTLCache[Key, Value]] = TTLCache(customers, ttl_seconds, time.monotonic)
        # Bumped by every drop.
        self.epoch = 0
        self.follower = TopicFollower(
            bootstrap_servers,
            topic_names,
            client_id=client_id,
            on_event=lambda envelope: self.forget((envelope.customer_id,)),
            on_restart=self.clear,
            freshness_seconds=freshness_seconds,
        )

    def get(self, customer_id: str, key: Key) -> Value | None:
        """The value held, if the follower is current (a value expiring meanwhile misses)."""
        if not self.follower.current():
            return None
        try:
            return self._held[customer_id][key]
        except KeyError:
            return None

    def keep(self, customer_id: str, key: Key, value: Value, read_in_epoch: int) -> None:
        if read_in_epoch != self.epoch:
            return  # something was dropped since it was read: it may be the change of this very value
        held = self._held.get(customer_id)
        if held is None:
            held = TTLCache(self.per_customer, self.ttl_seconds, time.monotonic)
        held[key] = value
        self._held[customer_id] = held  # (re)set: the customer lives as long as its newest value

    def forget(self, customer_ids: Iterable[str]) -> None:
        self.epoch += 1
        for customer_id in customer_ids:
            self._held.pop(customer_id, None)

    def clear(self) -> None:
        self.epoch += 1
        self._held.clear()
