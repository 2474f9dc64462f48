"""Consent KPIs over the consent service's own data: consents active, expiring, granted and
revoked, and share decisions permitted and denied (R2.4, R6.1, R7.2).

Decisions are the hot path (the gateway asks before every share), so they are tallied in memory
per day, recipient, purpose and outcome, and a job adds the tallies to the database every few
seconds: a decision costs no write, and a crash loses at most the last few seconds of counts.
"""

from collections import Counter
from datetime import date, timedelta

import sqlalchemy as sa
from fastapi import APIRouter
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from events.store import upsert_insert
from services.consent.models import Base, Consent
from services.consent.schemas import DecisionOut, DecisionRequest
from services.kit.clock import now
from services.kit.db import SessionDep
from services.kit.kpi import (
    Kpi,
    KpiGroup,
    KpiPoint,
    KpiReport,
    KpiWindow,
    add_to,
    as_date,
    bucket_of,
    count_in_window,
    kpi_query,
)
from services.kit.problems import PROBLEM_RESPONSES

router = APIRouter(prefix="/api/v1/kpis", tags=["kpis"], responses=PROBLEM_RESPONSES)
EXPIRING_WITHIN = timedelta(days=30)


class DecisionTally(Base):
    """Share decisions per day, recipient, purpose and outcome (counts only, no customer)."""

    __tablename__ = "decision_tallies"

    day: Mapped[date] = mapped_column(sa.Date(), primary_key=True)
    recipient: Mapped[str] = mapped_column(sa.String(100), primary_key=True)
    purpose: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    decision: Mapped[str] = mapped_column(sa.String(8), primary_key=True)
    count: Mapped[int] = mapped_column(sa.BigInteger())


class DecisionCounter:
    """This process's decisions not yet added to the database."""

    def __init__(self) -> None:
        self.pending: Counter[tuple[date, str, str, str]] = Counter()

    def count(self, asked: DecisionRequest, answer: DecisionOut) -> None:
        self.pending[(now().date(), asked.recipient, asked.purpose, answer.decision)] += 1

    async def flush(self, sessions: async_sessionmaker[AsyncSession]) -> int:
        taken, self.pending = self.pending, Counter()
        if not taken:
            return 0
        try:
            async with sessions() as session, session.begin():
                insert = upsert_insert(session, DecisionTally).values(
                    [
                        {"day": day, "recipient": recipient, "purpose": purpose, "decision": decision, "count": n}
                        for (day, recipient, purpose, decision), n in taken.items()
                    ]
                )
                await session.execute(
                    insert.on_conflict_do_update(
                        index_elements=["day", "recipient", "purpose", "decision"],
                        set_={"count": DecisionTally.count + insert.excluded["count"]},
                    )
                )
        except BaseException:
            self.pending.update(taken)  # not lost: added again on the next run
            raise
        return 0  # nothing more is waiting; the job sleeps until its next run


decisions = DecisionCounter()

BREAKDOWNS = ("purpose", "recipient_type", "channel")


@router.get("/consent", response_model=KpiReport, summary="Consent KPIs: active, expiring, granted, revoked, decisions")
async def consent_kpis(session: SessionDep, window: KpiWindow = kpi_query(*BREAKDOWNS)) -> KpiReport:
    group = getattr(Consent, window.by) if window.by else None
    keys = [group] if group is not None else []
    active_at_end = sa.and_(
        sa.or_(Consent.revoked_at.is_(None), Consent.revoked_at >= window.end),
        sa.or_(Consent.expires_at.is_(None), Consent.expires_at >= window.end),
    )
    expiring = sa.and_(active_at_end, Consent.expires_at < window.end + EXPIRING_WITHIN)

    async with session.begin():
        # Active and expiring at the window's end, and granted within it: one pass over the
        # consents granted before its end (the trend of grants is counted per bucket below).
        active, expiring_soon, granted = {None: 0}, {None: 0}, {None: 0}
        granted_in_window = Consent.granted_at >= window.start
        query = sa.select(
            sa.func.count().filter(active_at_end),
            sa.func.count().filter(expiring),
            sa.func.count().filter(granted_in_window),
            *keys,
        )
        for row in await session.execute(query.where(Consent.granted_at < window.end).group_by(*keys)):
            key = row[3] if keys else None
            for counts, n in zip((active, expiring_soon, granted), row[:3], strict=True):
                add_to(counts, key if n else None, n)
        kpis = [_count_kpi("active_consents", active), _count_kpi("expiring_consents", expiring_soon)]
        _, granted_series = await count_in_window(session, Consent.granted_at, window)
        kpis.append(_count_kpi("granted_consents", granted, granted_series))
        revoked, revoked_series = await count_in_window(session, Consent.revoked_at, window, group=group)
        kpis.append(_count_kpi("revoked_consents", revoked, revoked_series))
        for outcome in ("permit", "deny"):
            kpis.append(await _decision_kpi(session, outcome, window))
    return KpiReport.of("consent", window, kpis)


def _count_kpi(name: str, counts: dict, series: list[KpiPoint] | None = None) -> Kpi:
    total = counts[None]
    breakdown = [KpiGroup(key=str(k), value=float(n), count=n) for k, n in counts.items() if k is not None]
    return Kpi(name=name, unit="count", value=float(total), count=total, breakdown=breakdown, series=series or [])


async def _decision_kpi(session, outcome: str, window: KpiWindow) -> Kpi:
    where = [
        DecisionTally.decision == outcome,
        DecisionTally.day >= window.start.date(),
        DecisionTally.day <= window.end.date(),
    ]
    total = await session.scalar(sa.select(sa.func.coalesce(sa.func.sum(DecisionTally.count), 0)).where(*where))
    per_day = await session.execute(
        sa.select(DecisionTally.day, sa.func.sum(DecisionTally.count)).where(*where).group_by(DecisionTally.day)
    )
    per_bucket: Counter[date] = Counter()
    for day, n in per_day.all():
        per_bucket[bucket_of(as_date(day), window.bucket)] += int(n)
    breakdown = []
    if window.by == "purpose":
        grouped = await session.execute(
            sa.select(DecisionTally.purpose, sa.func.sum(DecisionTally.count))
            .where(*where)
            .group_by(DecisionTally.purpose)
        )
        breakdown = [KpiGroup(key=k, value=float(n), count=int(n)) for k, n in grouped.all()]
    return Kpi(
        name=f"decisions_{'permitted' if outcome == 'permit' else 'denied'}",
        unit="count",
        value=float(total),
        count=int(total),
        breakdown=breakdown,
        series=[KpiPoint(bucket=b, value=float(n), count=n) for b, n in sorted(per_bucket.items())],
    )
