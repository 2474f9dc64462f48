"""Keep a background loop running: restart it after a failure, waiting longer each time (up to
a bound) and resetting the wait once it has run well. The one place background tasks of every
component (relay, consumer, jobs, sealer, listeners) get their resilience from."""

import asyncio
import time
from collections.abc import Awaitable, Callable

import structlog

log = structlog.get_logger(__name__)


class Backoff:
    """Exponential waits between retries: `initial`, doubled up to `maximum`; `reset()` after a success."""

    def __init__(self, initial: float = 0.5, maximum: float = 5.0):
        self.initial = initial
        self.maximum = maximum
        self.current = initial

    def next(self) -> float:
        wait = self.current
        self.current = min(self.current * 2, self.maximum)
        return wait

    def reset(self) -> None:
        self.current = self.initial


async def supervise(
    name: str, loop: Callable[[], Awaitable[None]], backoff: Backoff | None = None, *, ran_well_seconds: float = 60.0
) -> None:
    """Run `loop` forever; when it raises (or returns), log the error type only (never values,
    which may be personal data) and start it again after a growing wait. A loop that ran for
    `ran_well_seconds` before it failed starts again after the shortest wait: its earlier
    failures are over (the loops supervised here run until cancelled, so they seldom return)."""
    backoff = backoff or Backoff()
    while True:
        started = time.monotonic()
        try:
            await loop()
            backoff.reset()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if time.monotonic() - started >= ran_well_seconds:
                backoff.reset()
            wait = backoff.next()
            log.warning("background_restart", loop=name, error_type=type(exc).__name__, retry_in_s=wait)
            await asyncio.sleep(wait)
