"""Stopping a component does not wait on a broker that is away: each Kafka client's stop is
bounded (events.kafka.stopped)."""

import asyncio

import pytest

from events import kafka


async def test_a_stop_that_would_wait_for_ever_returns_after_the_bound(monkeypatch):
    monkeypatch.setattr(kafka, "STOP_SECONDS", 0.05)
    flush_forever = asyncio.Event()  # never set: a producer flushing to a broker that is gone
    # Unbounded, this would raise TimeoutError here after 5 s.
    await asyncio.wait_for(kafka.stopped(flush_forever.wait()), timeout=5)


async def test_a_stop_that_fails_still_raises():
    async def refused() -> None:
        raise RuntimeError("not a timeout")

    with pytest.raises(RuntimeError):
        await kafka.stopped(refused())
