"""Supervision: a failing loop is restarted after growing, bounded waits."""

import asyncio
from collections.abc import Callable, Coroutine

import pytest
from structlog.testing import capture_logs

from services.kit.supervise import Backoff, supervise


async def supervised_until(done: Callable[[], bool], supervising: Coroutine) -> None:
    """Run `supervising` until `done()` holds (at most two seconds), then cancel it."""
    task = asyncio.create_task(supervising)
    for _ in range(200):
        if done():
            break
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def test_backoff_doubles_up_to_its_bound_and_resets():
    backoff = Backoff(initial=0.5, maximum=2.0)
    assert [backoff.next() for _ in range(5)] == [0.5, 1.0, 2.0, 2.0, 2.0]
    backoff.reset()
    assert backoff.next() == 0.5


async def test_a_loop_that_fails_is_started_again():
    runs = []

    async def flaky():
        runs.append(1)
        if len(runs) < 3:
            raise ConnectionError("broker away")
        await asyncio.Event().wait()  # then it runs well, until cancelled

    await supervised_until(lambda: len(runs) == 3, supervise("flaky", flaky, Backoff(initial=0.01, maximum=0.02)))
    assert len(runs) == 3


async def test_a_loop_that_ran_well_before_failing_starts_again_after_the_shortest_wait():
    runs = []

    async def fails_now_and_then():
        runs.append(1)
        if len(runs) == 3:
            await asyncio.sleep(0.1)  # runs well for a while, then fails again
        if len(runs) < 5:
            raise ConnectionError("broker away")
        await asyncio.Event().wait()

    with capture_logs() as logs:
        await supervised_until(
            lambda: len(runs) == 5,
            supervise("flaky", fails_now_and_then, Backoff(initial=0.01, maximum=1.0), ran_well_seconds=0.05),
        )
    waits = [entry["retry_in_s"] for entry in logs if entry["event"] == "background_restart"]
    assert waits == [0.01, 0.02, 0.01, 0.02]
