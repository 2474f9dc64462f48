"""Consent enforcement at the gateway (R2.4, R6.1): before customer data goes to a partner
system or a marketing role, the consent service decides. Permits are cached, and any consent
event about a customer (revoked, expired, granted, ...) drops that customer's cached decisions,
so a revocation takes effect through the gateway within a second.

The cache fails closed: a cached permit is trusted only while the gateway can show it has read
every consent event published up to a moment less than FRESHNESS_SECONDS ago (events/follower.py).
A hung or unreachable broker stops those proofs, so within that time every check goes to the
consent service again; an unreachable consent service denies.
"""

import asyncio
import hashlib
import hmac
import json
from collections.abc import Callable, Sequence

import structlog

from events import kafka
from events.contracts import topics
from events.follower import FollowedCache
from gateway.upstream import Upstream, UpstreamError

log = structlog.get_logger(__name__)


class ConsentUnavailable(Exception):
    """The consent service did not answer; sharing is refused (fail closed)."""


class ConsentChecker:
    TTL_SECONDS = 300.0
    # A cached permit is trusted only while the eviction consumer has proved, this recently,
    # that it had read up to the consent topic's high-water marks.
    FRESHNESS_SECONDS = 1.0
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
        self.pseudonym_key = pseudonym_key
        self.credential = credential
        # customer -> (recipient, purpose, categories) -> permit. Every gateway replica reads every
        # consent event (the gateway's ServiceSpec.followed_topics) and drops the cached decisions
        # of the customer it names.
        self._permits: FollowedCache[tuple, bool] = FollowedCache(
            bootstrap_servers,
            topic_names,
            client_id="gateway-consent-cache",
            customers=self.MAX_CUSTOMERS,
            per_customer=self.MAX_DECISIONS_PER_CUSTOMER,
            ttl_seconds=self.TTL_SECONDS,
            freshness_seconds=self.FRESHNESS_SECONDS,
        )
        self.follower = self._permits.follower

    def cache_trusted(self) -> bool:
        return self.follower.current()

    def pseudonym(self, recipient: str, customer_id: str) -> str:
        """Stable per recipient, unlinkable across recipients, not reversible without the key."""
        digest = hmac.new(self.pseudonym_key, f"{recipient}\x00{customer_id}".encode(), hashlib.sha256)
        return digest.hexdigest()[:32]

    async def permits(self, *, customer_id: str, recipient: str, purpose: str, categories: tuple[str, ...]) -> bool:
        key = (recipient, purpose, categories)
        if self._permits.get(customer_id, key):
            return True
        epoch = self._permits.epoch
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
        if permitted:
            self._permits.keep(customer_id, key, True, epoch)
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
        self._permits.forget((customer_id,))

    async def listen(self) -> None:
        """Follow the consent topic (runs until cancelled; the gateway supervises it)."""
        await self.follower.follow()
