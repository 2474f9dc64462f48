"""OWASP API6:2023 Unrestricted Access to Sensitive Business Flows: consent enforcement at the
gateway fails closed (issue 7, item 1). A cached permit counts only while the gateway can show
it has read every consent event up to a moment ago; a hung broker stops that proof."""

import asyncio
import json

import pytest

from gateway.consent import ConsentChecker, ConsentUnavailable
from gateway.upstream import UpstreamError, UpstreamResponse

PARTITION = ("crm.consent", 0)


class ConsentService:
    """Answers decisions as the consent service would, counting the questions."""

    def __init__(self):
        self.decision = "permit"
        self.reachable = True
        self.asked = 0

    async def request(self, method, url, *, headers, body, timeout=None):
        assert url.endswith("/api/v1/decisions") and "X-Caller-Credential" in headers
        self.asked += 1
        if not self.reachable:
            raise UpstreamError(timed_out=False)
        return UpstreamResponse(200, {}, json.dumps({"decision": self.decision}).encode())


class Consumer:
    """The eviction consumer's view of the topic: its position and what the broker answers."""

    def __init__(self, *, position: int, end: int | None):
        self._position, self.end = position, end

    def assignment(self):
        return {PARTITION}

    async def end_offsets(self, partitions):
        if self.end is None:
            await asyncio.sleep(3600)  # a frozen broker: the question is never answered
        return {p: self.end for p in partitions}

    async def position(self, partition):
        return self._position


@pytest.fixture
def consent():
    return ConsentService()


@pytest.fixture
def checker(consent):
    return ConsentChecker(
        upstream=consent,
        consent_url="http://consent",
        bootstrap_servers="-",
        pseudonym_key=b"k" * 32,
        credential=lambda: {"X-Caller-Credential": "signed"},
    )


async def permits(checker):
    return await checker.permits(
        customer_id="c-1", recipient="bank-marketing", purpose="marketing", categories=("basic",)
    )


async def test_a_cached_permit_is_used_only_while_the_consumer_is_provably_current(checker, consent):
    await checker.follower._prove_current(Consumer(position=7, end=7))
    assert await permits(checker) and await permits(checker)
    assert consent.asked == 1  # the second answer came from the cache


async def test_a_consumer_behind_the_high_water_mark_proves_nothing(checker, consent):
    await checker.follower._prove_current(Consumer(position=6, end=7))
    assert not checker.cache_trusted()
    await permits(checker)
    await permits(checker)
    assert consent.asked == 2


async def test_with_the_broker_hung_a_revocation_denies_once_the_proof_lapses(checker, consent):
    await checker.follower._prove_current(Consumer(position=7, end=7))
    assert await permits(checker)
    consent.decision = "deny"  # the customer revoked; the event cannot reach the gateway

    await checker.follower._prove_current(Consumer(position=7, end=None))  # gives up after its timeout
    checker.follower._current_as_of -= checker.FRESHNESS_SECONDS  # the last proof is now too old
    assert not checker.cache_trusted()
    assert not await permits(checker)


async def test_an_unreachable_consent_service_denies(checker, consent):
    consent.reachable = False
    with pytest.raises(ConsentUnavailable):
        await permits(checker)


@pytest.mark.parametrize(
    "meanwhile",
    [
        lambda checker: checker.forget("c-1"),  # a consent event about the customer arrived
        lambda checker: checker.follower.on_restart(),  # the consumer started again: events may be missed
    ],
    ids=["an eviction", "a restart of the eviction consumer"],
)
async def test_a_permit_answered_across_an_eviction_or_a_restart_is_not_cached(checker, consent, meanwhile):
    await checker.follower._prove_current(Consumer(position=7, end=7))
    original = consent.request

    async def answer_after_it(*args, **kwargs):
        meanwhile(checker)
        return await original(*args, **kwargs)

    consent.request = answer_after_it
    assert await permits(checker)
    consent.request = original
    await permits(checker)
    assert consent.asked == 2
