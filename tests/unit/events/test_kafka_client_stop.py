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


async def test_a_caller_cancelled_as_the_stop_finishes_stays_cancelled():
    """A shutdown cancels the loop around a stop; if the cancellation arrived as the stop finished
    and were lost (asyncio.wait_for on Python 3.11 loses it), the loop would run on."""
    finished = asyncio.Event()
    ran_on = asyncio.Event()

    async def loop_around_a_stop() -> None:
        await kafka.stopped(finished.wait())
        ran_on.set()

    task = asyncio.create_task(loop_around_a_stop())
    await asyncio.sleep(0)  # the stop is under way
    finished.set()  # it finishes ...
    task.cancel()  # ... as the shutdown cancels the loop
    await asyncio.wait([task], timeout=1)
    assert task.cancelled() and not ran_on.is_set()
