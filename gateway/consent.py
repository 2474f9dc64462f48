"""Consent enforcement at the gateway (R2.4, R6.1): before customer data goes to a partner
system or a marketing role, the consent service decides. Permits are cached, and any consent
event about a customer (revoked, expired, granted, ...) drops that customer's cached decisions,
so a revocation takes effect through the gateway within a second.

If the gateway stops hearing from the broker, it stops trusting its cache and asks every time:
a missed revocation can never leave a stale permit in place.
"""

import asyncio
import hashlib
import hmac
import json
import time

import structlog
from events import kafka

from events.contracts.envelope import Envelope
from gateway.upstream import Upstream, UpstreamError

log = structlog.get_logger(__name__)


class ConsentUnavailable(Exception):
    """The consent service did not answer; sharing is refused (fail closed)."""


class ConsentChecker:
    TTL_SECONDS = 300.0
    # The cache is trusted only while the eviction consumer has polled this recently.
    LISTENER_FRESHNESS_SECONDS = 2.0

    def __init__(self, *, upstream: Upstream, consent_url: str, bootstrap_servers: kafka.Connection | str, pseudonym_key: bytes, topic_names: list[str]):
        self.upstream = upstream
        self.consent_url = consent_url
        self.bootstrap_servers = bootstrap_servers
        self.topic_names = topic_names  # the consent topic (the gateway's ServiceSpec.consumed_topics)
        self.pseudonym_key = pseudonym_key
        self._cache: dict[str, dict[tuple, tuple[float, bool]]] = {}  # customer -> decision key -> (expiry, permit)
        self._listener_polled_at = 0.0

    def pseudonym(self, recipient: str, customer_id: str) -> str:
        """Stable per recipient, unlinkable across recipients, not reversible without the key."""
        digest = hmac.new(self.pseudonym_key, f"{recipient}\x00{customer_id}".encode(), hashlib.sha256)
        return digest.hexdigest()[:32]

    async def permits(self, *, customer_id: str, recipient: str, purpose: str, categories: tuple[str, ...]) -> bool:
        key = (recipient, purpose, categories)
        trusted = time.monotonic() - self._listener_polled_at < self.LISTENER_FRESHNESS_SECONDS
        cached = self._cache.get(customer_id, {}).get(key)
        if trusted and cached and cached[0] > time.monotonic():
            return cached[1]
        body = json.dumps({"customer_id": customer_id, "recipient": recipient, "purpose": purpose,
                           "data_categories": list(categories)}).encode()
        try:
            answer = await self.upstream.request(
                "POST", f"{self.consent_url}/api/v1/decisions", headers={"content-type": "application/json"}, body=body
            )
        except UpstreamError:
            raise ConsentUnavailable() from None
        if answer.status != 200:
            raise ConsentUnavailable()
        permitted = json.loads(answer.body)["decision"] == "permit"
        if permitted:  # only permits are cached: a new grant takes effect on the next call
            self._cache.setdefault(customer_id, {})[key] = (time.monotonic() + self.TTL_SECONDS, True)
        return permitted

    async def permitted_categories(
        self, *, customer_id: str, recipient: str, purpose: str, categories: set[str]
    ) -> set[str]:
        checks = {c: self.permits(customer_id=customer_id, recipient=recipient, purpose=purpose, categories=(c,))
                  for c in sorted(categories)}
        results = await asyncio.gather(*checks.values())
        return {category for category, permitted in zip(checks, results) if permitted}

    def forget(self, customer_id: str) -> None:
        self._cache.pop(customer_id, None)

    async def listen(self) -> None:
        """Drop cached decisions of every customer a consent event names; runs until cancelled.
        Every gateway replica reads every event (no consumer group): each has its own cache."""
        while True:
            consumer = kafka.consumer(
                self.bootstrap_servers, None, self.topic_names, auto_offset_reset="latest", client_id="gateway-consent-cache"
            )
            try:
                await consumer.start()
                # Events missed while disconnected cannot be replayed ("latest"): start afresh.
                self._cache.clear()
                while True:
                    batch = await consumer.getmany(timeout_ms=200)
                    for records in batch.values():
                        for record in records:
                            try:
                                self.forget(Envelope.model_validate_json(record.value).customer_id)
                            except ValueError:
                                continue  # not an envelope: nothing to evict
                    self._listener_polled_at = time.monotonic()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("consent_cache_listener_retry", error_type=type(exc).__name__)
                await asyncio.sleep(1)
            finally:
                await consumer.stop()
