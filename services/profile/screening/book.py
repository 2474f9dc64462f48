"""Re-screening the whole book: the `rescreen-book` job works through pending runs (queued by a
new list version or a bulk import), one batch of customers per transaction, resuming from the
last customer id it screened; each customer is rated again on the way (so customers imported,
or created before ratings existed, get one). Safe in several replicas: the run row is locked
while a batch runs."""

from functools import partial

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.kit.clock import now
from services.kit.jobs import PeriodicJob
from services.profile.models import Customer, audit
from services.profile.screening.alerts import SCREENED_FIELDS, screen
from services.profile.screening.models import ScreeningRun
from services.profile.screening.risk import rerate
from services.profile.settings import ProfileSettings


async def rescreen_batch(sessions: async_sessionmaker[AsyncSession], settings: ProfileSettings) -> int:
    """Screen the next batch of the oldest pending run; returns how many customers it screened."""
    async with sessions() as session, session.begin():
        query = sa.select(ScreeningRun).where(ScreeningRun.status == "pending").order_by(ScreeningRun.id).limit(1)
        if session.get_bind().dialect.name != "sqlite":
            query = query.with_for_update(skip_locked=True)
        run = await session.scalar(query)
        if run is None:
            return 0
        batch = (
            sa.select(Customer)
            .where(Customer.erased_at.is_(None))
            .order_by(Customer.id)
            .limit(settings.screening_batch_size)
        )
        if run.after_customer_id is not None:
            batch = batch.where(Customer.id > run.after_customer_id)
        customers = list(await session.scalars(batch))
        for customer in customers:
            await screen(session, customer, trigger="list_version" if run.list_id else "import", settings=settings)
            await rerate(session, customer, settings)  # customers from before ratings, or imported, get one
        if customers:
            await audit.record_many(
                session,
                actor="job:rescreen-book",
                role="system",
                action="screen",
                customer_ids=[c.id for c in customers],
                fields=sorted(SCREENED_FIELDS),
            )
        run.screened += len(customers)
        if customers:
            run.after_customer_id = customers[-1].id
        if len(customers) < settings.screening_batch_size:
            run.status, run.finished_at = "done", now()
        return max(len(customers), 1)


def rescreen_book_job(settings: ProfileSettings) -> PeriodicJob:
    return PeriodicJob(
        name="rescreen-book",
        every_seconds=settings.screening_job_seconds,
        run=partial(rescreen_batch, settings=settings),
    )
