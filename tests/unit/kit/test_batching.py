"""Concurrent asks answered together (services.kit.batching.Coalescer)."""

import asyncio

import pytest

from services.kit.batching import Coalescer


class Doubling:
    """answer_all doubles each ask; each call is recorded and held until released."""

    def __init__(self):
        self.calls: list[list[int]] = []
        self.release = asyncio.Event()
        self.fail_on: int | None = None

    async def __call__(self, asks):
        self.calls.append(list(asks))
        await self.release.wait()
        if self.fail_on in asks:
            raise LookupError(f"no answer for {self.fail_on}")
        return [ask * 2 for ask in asks]


async def settle():
    for _ in range(5):
        await asyncio.sleep(0)


async def asked(coalescer: Coalescer, first: int, *later: int) -> tuple[asyncio.Task, list[asyncio.Task]]:
    """`first` asked, its call started, then `later` asked while it is in flight."""
    started = asyncio.ensure_future(coalescer.ask(first))
    await settle()
    waiting = [asyncio.ensure_future(coalescer.ask(n)) for n in later]
    await settle()
    return started, waiting


async def test_a_lone_ask_is_answered_by_a_call_of_its_own():
    answer_all = Doubling()
    answer_all.release.set()
    coalescer = Coalescer(answer_all, in_flight=1)
    assert await coalescer.ask(21) == 42
    assert answer_all.calls == [[21]]


async def test_asks_that_arrive_while_a_call_is_in_flight_go_together_in_the_next():
    answer_all = Doubling()
    coalescer = Coalescer(answer_all, in_flight=1)
    first, later = await asked(coalescer, 1, 2, 3, 4)
    assert answer_all.calls == [[1]]  # the others wait for the call in flight
    answer_all.release.set()
    assert await first == 2
    assert await asyncio.gather(*later) == [4, 6, 8]  # each its own answer, in order
    assert answer_all.calls == [[1], [2, 3, 4]]


async def test_up_to_in_flight_calls_run_at_once():
    answer_all = Doubling()
    coalescer = Coalescer(answer_all, in_flight=2)
    asks = [asyncio.ensure_future(coalescer.ask(n)) for n in (1, 2, 3, 4)]
    await settle()
    assert answer_all.calls == [[1], [2]]
    answer_all.release.set()
    assert await asyncio.gather(*asks) == [2, 4, 6, 8]
    assert answer_all.calls == [[1], [2], [3, 4]]


async def test_a_call_takes_at_most_most_asks_and_the_rest_go_in_the_next():
    answer_all = Doubling()
    coalescer = Coalescer(answer_all, in_flight=1, most=2)
    first, later = await asked(coalescer, 1, 2, 3, 4, 5, 6)
    answer_all.release.set()
    assert [await first, *await asyncio.gather(*later)] == [2, 4, 6, 8, 10, 12]
    assert answer_all.calls == [[1], [2, 3], [4, 5], [6]]


async def test_a_failed_call_fails_its_own_asks_only():
    answer_all = Doubling()
    answer_all.fail_on = 2
    coalescer = Coalescer(answer_all, in_flight=1)
    first, batch = await asked(coalescer, 1, 2, 3)
    answer_all.release.set()
    assert await first == 2
    for ask in batch:
        with pytest.raises(LookupError):
            await ask
    assert await coalescer.ask(5) == 10  # the place was given back


async def test_an_ask_whose_caller_gave_up_is_left_out_of_the_next_call():
    answer_all = Doubling()
    coalescer = Coalescer(answer_all, in_flight=1)
    first, (gone, kept) = await asked(coalescer, 1, 2, 3)
    gone.cancel()
    answer_all.release.set()
    assert await first == 2
    assert await kept == 6
    assert answer_all.calls == [[1], [3]]


async def test_closing_cancels_the_calls_in_flight_and_the_asks_waiting_for_them():
    answer_all = Doubling()
    coalescer = Coalescer(answer_all, in_flight=1)
    first, (second, third) = await asked(coalescer, 1, 2, 3)
    first.cancel()  # the lone call ends (its caller gave up); the waiting asks become a batch
    await settle()
    assert answer_all.calls == [[1], [2, 3]]
    await coalescer.close()
    for ask in (second, third):
        with pytest.raises(asyncio.CancelledError):
            await ask


def test_at_least_one_call_must_be_allowed():
    with pytest.raises(ValueError):
        Coalescer(Doubling(), in_flight=0)
