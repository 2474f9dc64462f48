"""Supervision: a failing loop is restarted after growing, bounded waits."""

import asyncio

import pytest

from services.kit.supervise import Backoff, supervise


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

    task = asyncio.create_task(supervise("flaky", flaky, Backoff(initial=0.01, maximum=0.02)))
    for _ in range(100):
        if len(runs) == 3:
            break
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert len(runs) == 3
