"""Consent KPIs over the consent service's own data: consents active, expiring, granted and
revoked, and share decisions permitted and denied (R2.4, R6.1, R7.2).

Consents granted, revoked and ended are counted per day and month by triggers on every write
(`ConsentDay`, `ConsentMonth`), so a window's figures read a few thousand counts, not every consent.

Decisions are the hot path (the gateway asks before every share), so they are tallied in memory
per day, recipient, purpose and outcome, and a job adds the tallies to the database every few
seconds: a decision costs no write, and a crash loses at most the last few seconds of counts.
"""

from collections import Counter
from datetime import UTC, date, datetime, timedelta

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
    kpi_query,
)
from services.kit.problems import PROBLEM_RESPONSES

router = APIRouter(prefix="/api/v1/kpis", tags=["kpis"], responses=PROBLEM_RESPONSES)
EXPIRING_WITHIN = timedelta(days=30)


class DecisionTally(Base):
    """Share decisions per day, recipient, purpose and outcome (counts only, no customer)."""

    __tablename__ = "decision_tallies"
    # A window's days with what the KPIs group and sum, so PostgreSQL reads the index alone.
    __table_args__ = (
        sa.Index("ix_decision_tallies_day_kpis", "day", postgresql_include=["decision", "purpose", "count"]),
    )

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


class _Counts:
    """Consents granted, revoked and ended (stopped being active: revoked or expired, whichever
    came first, not before their grant) in one period, per breakdown values. Kept by triggers on
    `consents` (migration 0008) in the transaction of every write to it, whoever makes it (grant,
    approval, revocation, erasure, retention). Two writes adding to the same period and breakdown
    values wait for each other's commit on that row; consent writes are far rarer than decisions."""

    purpose: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    recipient_type: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    channel: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    granted: Mapped[int] = mapped_column(sa.BigInteger())
    revoked: Mapped[int] = mapped_column(sa.BigInteger())
    ended: Mapped[int] = mapped_column(sa.BigInteger())


class ConsentDay(_Counts, Base):
    """Per UTC day: the routes add whole days from here to a scan of the partial days at the
    window's edges."""

    __tablename__ = "consent_days"

    day: Mapped[date] = mapped_column(sa.Date(), primary_key=True)


class ConsentMonth(_Counts, Base):
    """Per UTC month (`month` its first day): the consents active at a moment add the months
    before it to the days of its own month, a few thousand rows rather than every day."""

    __tablename__ = "consent_months"

    month: Mapped[date] = mapped_column(sa.Date(), primary_key=True)


def _ended_at() -> sa.ColumnElement:
    """When a granted consent stopped being active: its first revocation or expiry, not before its
    grant (NULL while neither is set). Active at T = granted before T and not ended before T."""
    c = Consent
    stop = sa.case(
        (c.revoked_at.is_(None), c.expires_at),
        (c.expires_at.is_(None), c.revoked_at),
        (c.revoked_at < c.expires_at, c.revoked_at),
        else_=c.expires_at,
    )
    return sa.case(
        (c.granted_at.is_(None), None), (stop.is_(None), None), (stop > c.granted_at, stop), else_=c.granted_at
    )


def _midnight(moment: datetime, *, up: bool = False) -> datetime:
    """The UTC midnight at or before `moment` (at or after it with `up`)."""
    moment = moment.astimezone(UTC)
    floor = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return floor + timedelta(days=1) if up and floor < moment else floor


def _pieces(start: datetime, end: datetime) -> tuple[tuple[date, date] | None, list[tuple[datetime, datetime]]]:
    """[start, end) as whole UTC days [first, stop) and the partial days at its edges."""
    first, stop = _midnight(start, up=True), _midnight(end)
    if first > stop:  # within one day
        return None, [(start, end)]
    partial = [(a, b) for a, b in ((start, first), (stop, end)) if a < b]
    return ((first.date(), stop.date()) if first < stop else None), partial


@router.get("/consent", response_model=KpiReport, summary="Consent KPIs: active, expiring, granted, revoked, decisions")
async def consent_kpis(session: SessionDep, window: KpiWindow = kpi_query(*BREAKDOWNS)) -> KpiReport:
    by = window.by
    end, end_day = window.end, _midnight(window.end)
    active, expiring_soon, granted, revoked = {None: 0}, {None: 0}, {None: 0}, {None: 0}
    granted_per_day: Counter[date] = Counter()
    revoked_per_day: Counter[date] = Counter()

    async def grouped(query, table, *where) -> list[tuple]:
        """The query's rows per breakdown value (the value last, None without a breakdown)."""
        if by is None:
            return [(*row, None) for row in await session.execute(query.where(*where))]
        key = getattr(table, by)
        return list(await session.execute(query.add_columns(key).where(*where).group_by(key)))

    count = sa.select(sa.func.count())
    async with session.begin():
        # Active at the window's end: granted before it minus ended before it, whole months and
        # days from the counts, the partial day before the end from the consents.
        month = end_day.date().replace(day=1)
        for table, where in (
            (ConsentMonth, ConsentMonth.month < month),
            (ConsentDay, sa.and_(ConsentDay.day >= month, ConsentDay.day < end_day.date())),
        ):
            history = sa.select(sa.func.sum(table.granted) - sa.func.sum(table.ended))
            for n, key in await grouped(history, table, where):
                add_to(active, key, int(n or 0))
        if end_day < end:
            for n, key in await grouped(count, Consent, Consent.granted_at >= end_day, Consent.granted_at < end):
                add_to(active, key, n)
            # The ended moment is one of these three, so only consents with one of them in the
            # partial day can have ended in it.
            ended_at = _ended_at()
            near = [
                sa.and_(c >= end_day, c < end) for c in (Consent.granted_at, Consent.revoked_at, Consent.expires_at)
            ]
            for n, key in await grouped(count, Consent, sa.or_(*near), ended_at >= end_day, ended_at < end):
                add_to(active, key, -n)
        # Expiring: active at the end, with an expiry within EXPIRING_WITHIN after it.
        for n, key in await grouped(
            count,
            Consent,
            Consent.expires_at >= end,
            Consent.expires_at < end + EXPIRING_WITHIN,
            Consent.granted_at < end,
            sa.or_(Consent.revoked_at.is_(None), Consent.revoked_at >= end),
        ):
            add_to(expiring_soon, key, n)
        # Granted and revoked within the window, per day and breakdown value.
        whole, partial = _pieces(window.start, end)
        if whole is not None:
            # Per day, then per breakdown value: two small groupings in the database rather than
            # one per day and value folded here.
            days = ConsentDay.day >= whole[0], ConsentDay.day < whole[1]
            sums = sa.select(_total(ConsentDay.granted), _total(ConsentDay.revoked))
            for g, r, day in await session.execute(
                sums.add_columns(ConsentDay.day).where(*days).group_by(ConsentDay.day)
            ):
                add_to(granted, None, g)
                add_to(revoked, None, r)
                granted_per_day[as_date(day)] += g
                revoked_per_day[as_date(day)] += r
            if by is not None:
                key = getattr(ConsentDay, by)
                for g, r, value in await session.execute(sums.add_columns(key).where(*days).group_by(key)):
                    granted[value], revoked[value] = granted.get(value, 0) + g, revoked.get(value, 0) + r
        for a, b in partial:
            for column, counts, per_day in (
                (Consent.granted_at, granted, granted_per_day),
                (Consent.revoked_at, revoked, revoked_per_day),
            ):
                for n, key in await grouped(count, Consent, column >= a, column < b):
                    add_to(counts, key, n)
                    per_day[a.astimezone(UTC).date()] += n
        kpis = [
            _count_kpi("active_consents", active),
            _count_kpi("expiring_consents", expiring_soon),
            _count_kpi("granted_consents", granted, _series(granted_per_day, window)),
            _count_kpi("revoked_consents", revoked, _series(revoked_per_day, window)),
        ]
        kpis += await _decision_kpis(session, window)
    return KpiReport.of("consent", window, kpis)


def _total(column) -> sa.ColumnElement[int]:
    """A sum of counts as an integer (PostgreSQL sums bigints as numeric)."""
    return sa.cast(sa.func.sum(column), sa.BigInteger)


def _series(per_day: Counter[date], window: KpiWindow) -> list[KpiPoint]:
    per_bucket: Counter[date] = Counter()
    for day, n in per_day.items():
        per_bucket[bucket_of(day, window.bucket)] += n
    return [KpiPoint(bucket=b, value=float(n), count=n) for b, n in sorted(per_bucket.items()) if n]


def _count_kpi(name: str, counts: dict, series: list[KpiPoint] | None = None) -> Kpi:
    total = counts[None]
    breakdown = [
        KpiGroup(key=str(k), value=float(n), count=n)
        for k, n in sorted(counts.items(), key=_by_key)
        if k is not None and n
    ]
    return Kpi(name=name, unit="count", value=float(total), count=total, breakdown=breakdown, series=series or [])


def _by_key(item: tuple) -> str:
    return str(item[0])


async def _decision_kpis(session, window: KpiWindow) -> list[Kpi]:
    """Decisions permitted and denied in the window's days: one grouping per outcome and day, and
    one per outcome and purpose with that breakdown, shared by both KPIs."""
    outcomes = ("permit", "deny")
    T = DecisionTally
    where = [T.decision.in_(outcomes), T.day >= window.start.date(), T.day <= window.end.date()]
    total: Counter[str] = Counter()
    per_bucket: dict[str, Counter[date]] = {outcome: Counter() for outcome in outcomes}
    per_purpose: dict[str, Counter[str]] = {outcome: Counter() for outcome in outcomes}
    for outcome, day, n in await session.execute(
        sa.select(T.decision, T.day, _total(T.count)).where(*where).group_by(T.decision, T.day)
    ):
        total[outcome] += n
        per_bucket[outcome][bucket_of(as_date(day), window.bucket)] += n
    if window.by == "purpose":
        for outcome, purpose, n in await session.execute(
            sa.select(T.decision, T.purpose, _total(T.count)).where(*where).group_by(T.decision, T.purpose)
        ):
            per_purpose[outcome][purpose] += n
    breakdown = {
        outcome: [KpiGroup(key=k, value=float(n), count=n) for k, n in sorted(per_purpose[outcome].items())]
        for outcome in outcomes
    }
    return [
        Kpi(
            name=f"decisions_{'permitted' if outcome == 'permit' else 'denied'}",
            unit="count",
            value=float(total[outcome]),
            count=total[outcome],
            breakdown=breakdown[outcome],
            series=[KpiPoint(bucket=b, value=float(n), count=n) for b, n in sorted(per_bucket[outcome].items())],
        )
        for outcome in outcomes
    ]
