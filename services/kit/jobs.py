"""Scheduled jobs of a component (consent expiry, retention, document checks): run every few
seconds inside each replica, and once on demand with `crm run-job <component> <job>`.

A job must be safe to run in several replicas at once (row locks, conditional updates) and
must do a bounded amount of work per run; it returns how many items it handled.
"""

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    every_seconds: float
    run: Callable[[async_sessionmaker[AsyncSession]], Awaitable[int]]


async def run_forever(job: PeriodicJob, sessions: async_sessionmaker[AsyncSession]) -> None:
    while True:
        try:
            handled = await job.run(sessions)
            if handled:
                log.info("job_ran", job=job.name, handled=handled)
                continue  # more may be waiting
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("job_failed", job=job.name, error_type=type(exc).__name__)
        await asyncio.sleep(job.every_seconds)
