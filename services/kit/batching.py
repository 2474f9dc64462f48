"""Concurrent asks of one statement (a read or a write) answered together, one round trip for many.

A hot statement run for many callers at once (the consent decision, the gateway's access
audit row) costs more per round trip (the driver's protocol work, the event loop's wake-ups, a
commit's WAL flush) than per row. A `Coalescer` lets at most `in_flight` calls run at once;
asks that arrive meanwhile wait and go together in the next call (at most `most` of them). A
lone ask starts at once and waits for nothing, so batching appears only under load, where it
pays.

Each answer comes from a call that started after its ask arrived: what a batched read returns
is as current as what the ask would have read alone, and a batched write is committed when its
callers hear of it.
"""

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

Ask = TypeVar("Ask")
Answer = TypeVar("Answer")


class Coalescer(Generic[Ask, Answer]):
    """`answer_all(asks)` returns one answer per ask, in order; `ask(item)` returns item's."""

    def __init__(
        self,
        answer_all: Callable[[Sequence[Ask]], Awaitable[Sequence[Answer]]],
        in_flight: int,
        most: int | None = None,
    ):
        if in_flight < 1:
            raise ValueError("at least one call must be allowed in flight")
        self._answer_all = answer_all
        self._free = in_flight  # calls that may still start
        self._most = most
        self._waiting: list[tuple[Ask, asyncio.Future[Answer]]] = []
        self._batches: set[asyncio.Task] = set()  # referenced until done (the loop holds tasks weakly)

    async def ask(self, item: Ask) -> Answer:
        if self._free:
            # A lone ask runs in its caller's own task: no hand-off, and cancelling the caller
            # cancels only its own call.
            self._free -= 1
            try:
                (answer,) = await self._answer_all((item,))
            finally:
                self._call_ended()
            return answer
        future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        return await future

    def _call_ended(self) -> None:
        """A call ended: its place goes to the asks that waited meanwhile, as one batch in a task
        of its own (none of its callers may cancel it for the others), or is freed."""
        if not self._waiting:
            self._free += 1
            return
        waiting = [(item, future) for item, future in self._waiting if not future.done()]
        most = len(waiting) if self._most is None else self._most
        waiting, self._waiting = waiting[:most], waiting[most:]
        if not waiting:
            self._free += 1
            return
        batch = asyncio.get_running_loop().create_task(self._answer_batch(waiting))
        self._batches.add(batch)
        batch.add_done_callback(self._batches.discard)

    async def _answer_batch(self, batch: list[tuple[Ask, asyncio.Future[Answer]]]) -> None:
        try:
            answers = await self._answer_all([item for item, _ in batch])
            if len(answers) != len(batch):
                raise RuntimeError(f"{len(answers)} answers to {len(batch)} asks")
        except asyncio.CancelledError:  # shutting down: the asks waiting for later go too
            for _, future in [*batch, *self._waiting]:
                future.cancel()
            self._waiting = []
            raise
        except Exception as error:  # every ask of the batch gets the call's error
            for _, future in batch:
                if not future.done():
                    future.set_exception(error)
        else:
            for (_, future), answer in zip(batch, answers, strict=True):
                if not future.done():
                    future.set_result(answer)
        finally:
            self._call_ended()

    async def close(self) -> None:
        """Cancel the batches in flight (their asks are cancelled with them)."""
        for batch in list(self._batches):
            batch.cancel()
        await asyncio.gather(*self._batches, return_exceptions=True)
