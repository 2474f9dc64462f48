"""Stopping a component does not wait on a broker that is away: each Kafka client's stop is
bounded (services.kit.messaging._stopped)."""

import asyncio

import pytest

from services.kit import messaging


async def test_a_stop_that_would_wait_for_ever_returns_after_the_bound(monkeypatch):
    monkeypatch.setattr(messaging, "STOP_SECONDS", 0.05)
    flush_forever = asyncio.Event()  # never set: a producer flushing to a broker that is gone
    # Unbounded, this would raise TimeoutError here after 5 s.
    await asyncio.wait_for(messaging._stopped(flush_forever.wait()), timeout=5)


async def test_a_stop_that_fails_still_raises():
    async def refused() -> None:
        raise RuntimeError("not a timeout")

    with pytest.raises(RuntimeError):
        await messaging._stopped(refused())
