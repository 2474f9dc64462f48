"""Consent enforcement at the gateway (R2.4, R6.1): before customer data goes to a partner
system or a marketing role, the consent service decides. Permits are cached, and any consent
event about a customer (revoked, expired, granted, ...) drops that customer's cached decisions,
so a revocation takes effect through the gateway within a second.

The cache fails closed: a cached permit is trusted only while the gateway can show it has read
every consent event published up to a moment less than FRESHNESS_SECONDS ago (its eviction
consumer reached the topic's high-water marks, asked of the broker, at that moment). A hung or
unreachable broker (which still lets empty polls return) stops those proofs, so within that
time every check goes to the consent service again; an unreachable consent service denies.
"""

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Sequence

import structlog
from aiokafka import AIOKafkaConsumer
from cachetools import TTLCache

from events import kafka
from events.contracts import topics
from events.contracts.envelope import Envelope
from gateway.upstream import Upstream, UpstreamError

log = structlog.get_logger(__name__)


class ConsentUnavailable(Exception):
    """The consent service did not answer; sharing is refused (fail closed)."""


class ConsentChecker:
    TTL_SECONDS = 300.0
    # A cached permit is trusted only while the eviction consumer has proved, this recently,
    # that it had read up to the consent topic's high-water marks.
    FRESHNESS_SECONDS = 1.0
    # How long the broker may take to tell the high-water marks before the proof lapses.
    OFFSETS_TIMEOUT_SECONDS = 0.5
    MAX_CUSTOMERS = 100_000
    # Decisions kept per customer (recipient x purpose x category); the least recently used go first.
    MAX_DECISIONS_PER_CUSTOMER = 256

    def __init__(
        self,
        *,
        upstream: Upstream,
        consent_url: str,
        bootstrap_servers: kafka.Connection | str,
        pseudonym_key: bytes,
        credential: Callable[[], dict[str, str]],
        topic_names: Sequence[str] = (topics.CONSENT,),
    ):
        self.upstream = upstream
        self.consent_url = consent_url
        self.bootstrap_servers = bootstrap_servers
        self.topic_names = list(topic_names)  # the consent topic (the gateway's ServiceSpec.consumed_topics)
        self.pseudonym_key = pseudonym_key
        self.credential = credential
        # customer -> decision key -> permit; each decision lives TTL_SECONDS, and a customer's
        # entry as long as its newest decision, the least recently used customer going first.
        self._cache: TTLCache[str, TTLCache[tuple, bool]] = TTLCache(
            self.MAX_CUSTOMERS, self.TTL_SECONDS, time.monotonic
        )
        # When the consumer was last shown to have read every consent event published by then.
        self._current_as_of = float("-inf")
        # Bumped by every eviction: a decision asked before one is not cached after it.
        self._epoch = 0

    def _cached(self, customer_id: str, key: tuple) -> bool:
        """Whether an unexpired permit is cached (a look-up of an entry expiring meanwhile misses)."""
        try:
            return self._cache[customer_id][key]
        except KeyError:
            return False

    def cache_trusted(self) -> bool:
        return time.monotonic() - self._current_as_of < self.FRESHNESS_SECONDS

    def pseudonym(self, recipient: str, customer_id: str) -> str:
        """Stable per recipient, unlinkable across recipients, not reversible without the key."""
        digest = hmac.new(self.pseudonym_key, f"{recipient}\x00{customer_id}".encode(), hashlib.sha256)
        return digest.hexdigest()[:32]

    async def permits(self, *, customer_id: str, recipient: str, purpose: str, categories: tuple[str, ...]) -> bool:
        key = (recipient, purpose, categories)
        if self._cached(customer_id, key) and self.cache_trusted():
            return True
        epoch = self._epoch
        body = json.dumps(
            {
                "customer_id": customer_id,
                "recipient": recipient,
                "purpose": purpose,
                "data_categories": list(categories),
            }
        ).encode()
        try:
            answer = await self.upstream.request(
                "POST",
                f"{self.consent_url}/api/v1/decisions",
                headers={"content-type": "application/json", **self.credential()},
                body=body,
            )
        except UpstreamError:
            raise ConsentUnavailable() from None
        if answer.status != 200:
            raise ConsentUnavailable()
        permitted = json.loads(answer.body)["decision"] == "permit"
        # Only permits are cached (a new grant takes effect on the next call), and only if no
        # consent event arrived meanwhile (it may be the revocation of this very permit).
        if permitted and epoch == self._epoch:
            try:
                decisions = self._cache[customer_id]
            except KeyError:
                decisions = TTLCache(self.MAX_DECISIONS_PER_CUSTOMER, self.TTL_SECONDS, time.monotonic)
            decisions[key] = True
            self._cache[customer_id] = decisions  # (re)set: the customer lives as long as this decision
        return permitted

    async def permitted_categories(
        self, *, customer_id: str, recipient: str, purpose: str, categories: set[str]
    ) -> set[str]:
        checks = {
            c: self.permits(customer_id=customer_id, recipient=recipient, purpose=purpose, categories=(c,))
            for c in sorted(categories)
        }
        results = await asyncio.gather(*checks.values())
        return {category for category, permitted in zip(checks, results, strict=False) if permitted}

    def forget(self, customer_id: str) -> None:
        self._epoch += 1
        self._cache.pop(customer_id, None)

    async def _prove_current(self, consumer: AIOKafkaConsumer) -> None:
        """Ask the broker for the topic's high-water marks; if the consumer has read up to them,
        it has seen every consent event published before the question was asked."""
        asked_at = time.monotonic()
        partitions = consumer.assignment()
        if not partitions:
            return
        try:
            async with asyncio.timeout(self.OFFSETS_TIMEOUT_SECONDS):  # not wait_for: see events.kafka.stopped
                ends = await consumer.end_offsets(list(partitions))
        except TimeoutError:
            return  # a hung broker proves nothing: the cache lapses

        for partition, end in ends.items():
            if await consumer.position(partition) < end:
                return  # events remain to read: the next round proves it
        self._current_as_of = asked_at

    async def listen(self) -> None:
        """Drop cached decisions of every customer a consent event names; runs until cancelled
        or the broker fails it (the gateway supervises it: started again after a wait). Every
        gateway replica reads every event (no consumer group): each has its own cache."""
        consumer = kafka.consumer(
            self.bootstrap_servers,
            None,
            self.topic_names,
            auto_offset_reset="latest",
            client_id="gateway-consent-cache",
            fetch_max_wait_ms=500,
            max_poll_records=None,  # the library's defaults
        )
        try:
            await consumer.start()
            # Events missed while disconnected cannot be replayed ("latest"): start afresh.
            self._cache.clear()
            while True:
                batch = await consumer.getmany(timeout_ms=100)
                for records in batch.values():
                    for record in records:
                        try:
                            self.forget(Envelope.model_validate_json(record.value).customer_id)
                        except ValueError:
                            continue  # not an envelope: nothing to evict
                await self._prove_current(consumer)
        finally:
            await kafka.stopped(consumer.stop())
