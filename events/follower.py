"""Follow a topic to keep a cache current: every replica reads every event (no consumer group)
and drops what each event names; the cache is trusted only while the follower can show it has
read everything published up to a moment less than `freshness_seconds` ago.

The proof: the follower asks the broker for the topics' high-water marks and has read up to them;
it was then current as of the moment it asked. A hung or unreachable broker (which still lets
empty polls return) stops the proofs, so within `freshness_seconds` every reader of the cache
goes to the source again (fail closed). Used by the gateway's permit cache and the consent
service's decision index.
"""

import asyncio
import time
from collections.abc import Callable, Sequence

from aiokafka import AIOKafkaConsumer

from events import kafka
from events.contracts.envelope import Envelope


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
