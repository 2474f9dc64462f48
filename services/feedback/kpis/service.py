"""Service KPIs over any window, by channel, tier or product, with a trend per bucket.

Every KPI is a ratio of sums: over survey answers (CSAT, NPS, CES, closed-loop rate) and over
cases (complaint rate, SLA breach rate, times to first answer and to resolve, reopen rate).
The window's whole UTC days are read from the daily sums kept on every change (kpis/rollup.py),
the whole hours around them from the hourly sums, and the parts of hours at its edges are summed
from the items themselves, by grouped scans on the time-column indexes. Each source is grouped
twice, once per bucket and once per breakdown value (not per bucket and value: a year by
channel would be 365 x 4 rows summed in Python).
"""

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from services.feedback.cases.models import Case
from services.feedback.customers.models import known_customers
from services.feedback.kpis.rollup import (
    ANSWER_SUMS,
    CASE_SUMS,
    AnswerDaily,
    AnswerHourly,
    CaseDaily,
    CaseHourly,
    day_of,
    hour_of,
)
from services.feedback.surveys.models import SurveyAnswer
from services.kit.kpi import Kpi, KpiGroup, KpiPoint, KpiReport, KpiWindow, as_date, bucket_start

BREAKDOWNS = ("channel", "tier", "product")
UNKNOWN = "unknown"


def _count(condition) -> sa.ColumnElement:
    return sa.func.sum(sa.case((condition, 1), else_=0))


def _sum(condition, value) -> sa.ColumnElement:
    return sa.func.sum(sa.case((condition, value), else_=0))


def _hours(later, earlier, dialect: str) -> sa.ColumnElement:
    if dialect == "postgresql":
        return sa.extract("epoch", later - earlier) / 3600.0
    return (sa.func.julianday(later) - sa.func.julianday(earlier)) * 24.0


# Sums by name; a name never added reads as 0.
Totals = defaultdict[str, float]


@dataclass
class Sums:
    """Sums of one scan: over the whole window, per breakdown value and per bucket."""

    total: Totals = field(default_factory=lambda: defaultdict(float))
    by_key: dict[str, Totals] = field(default_factory=lambda: defaultdict(lambda: defaultdict(float)))
    by_bucket: dict[date, Totals] = field(default_factory=lambda: defaultdict(lambda: defaultdict(float)))

    def add_buckets(self, names: list[str], rows: Sequence) -> None:
        """The rows of a scan grouped by bucket: (sum of each of `names`..., bucket). Every row
        is in one bucket: they add up to the total."""
        for row in rows:
            self._add(names, row, self.by_bucket[as_date(row[len(names)])], self.total)

    def add_keys(self, names: list[str], rows: Sequence) -> None:
        """The rows of a scan grouped by breakdown value: (sum of each of `names`..., value)."""
        for row in rows:
            self._add(names, row, self.by_key[row[len(names)] or UNKNOWN])

    @staticmethod
    def _add(names: list[str], row: Sequence, *targets: Totals) -> None:
        for name, value in zip(names, row, strict=False):  # the sums, not bucket or key
            if value:
                for sums in targets:
                    sums[name] += float(value)


async def _scan(
    session: AsyncSession, sums: Sums, query: sa.Select, key_column, bucket_column, window: KpiWindow
) -> None:
    """`query`'s sums per bucket and, with a breakdown, per breakdown value: two small groupings
    rather than one per bucket and value."""
    dialect = session.get_bind().dialect.name
    names = list(query.selected_columns.keys())
    bucket = bucket_start(bucket_column, window.bucket, dialect).label("bucket")
    sums.add_buckets(names, (await session.execute(query.add_columns(bucket).group_by(bucket))).all())
    if key_column is not None:
        key = key_column.label("key")
        sums.add_keys(names, (await session.execute(query.add_columns(key).group_by(key))).all())


def _ratio(numerator: str, denominator: str, scale: float = 1.0) -> Callable[[Totals], tuple[float | None, int]]:
    def compute(sums: Totals) -> tuple[float | None, int]:
        n = int(sums[denominator])
        return (round(scale * sums[numerator] / n, 4) if n else None), n

    return compute


def _nps(sums: Totals) -> tuple[float | None, int]:
    n = int(sums["nps_n"])
    return (round(100.0 * (sums["nps_promoters"] - sums["nps_detractors"]) / n, 2) if n else None), n


@dataclass(frozen=True)
class Definition:
    name: str
    unit: str
    source: str  # answers | cases
    compute: Callable[[Totals], tuple[float | None, int]]
    drill: str


DEFINITIONS = [
    Definition("csat", "ratio", "answers", _ratio("csat_satisfied", "csat_n"), "/api/v1/survey-answers?survey=csat"),
    Definition("nps", "index", "answers", _nps, "/api/v1/survey-answers?survey=nps"),
    Definition("ces", "score", "answers", _ratio("ces_sum", "ces_n"), "/api/v1/survey-answers?survey=ces"),
    Definition(
        "complaint_rate", "per_1000", "cases", _ratio("complaints", "customers", 1000.0), "/api/v1/cases?kind=complaint"
    ),
    Definition("sla_breach_rate", "ratio", "cases", _ratio("breached", "cases"), "/api/v1/cases?sla_breached=true"),
    Definition(
        "mean_time_to_first_answer", "hours", "cases", _ratio("first_answer_hours", "answered"), "/api/v1/cases"
    ),
    Definition("mean_time_to_resolve", "hours", "cases", _ratio("resolve_hours", "resolved"), "/api/v1/cases"),
    # Of the cases opened in the window, the share resolved by now (R7.2's resolution rate).
    Definition("resolution_rate", "ratio", "cases", _ratio("resolved", "cases"), "/api/v1/cases"),
    Definition(
        "closed_loop_rate", "ratio", "answers", _ratio("in_time", "detractors"), "/api/v1/survey-answers?detractor=true"
    ),
    Definition("reopen_rate", "ratio", "cases", _ratio("reopened", "resolved_originals"), "/api/v1/cases"),
]


Span = tuple[datetime, datetime]


def _split(window: KpiWindow) -> tuple[list[Span], list[Span], Span | None]:
    """The parts of hours at the window's edges (scanned), the whole hours not in a whole UTC
    day (read from the hourly sums) and the whole days (read from the daily sums)."""
    hour_edges, hours = _whole(window.start, window.end, hour_of, timedelta(hours=1))
    if hours is None:
        return hour_edges, [], None
    day_edges, days = _whole(*hours, day_of, timedelta(days=1))
    if days is None:
        return hour_edges, [hours], None
    return hour_edges, day_edges, days


def _whole(lo: datetime, hi: datetime, start_of, period: timedelta) -> tuple[list[Span], Span | None]:
    """[lo, hi) as the span of its whole periods (None if it holds none) and the parts before and
    after it; `start_of` gives the start of a moment's period."""
    first = start_of(lo)
    first = first if first == lo else first + period
    last = start_of(hi)
    if first >= last:
        return [(lo, hi)], None
    return [(a, b) for a, b in ((lo, first), (last, hi)) if a < b], (first, last)


async def _scan_items(
    session: AsyncSession,
    answers: Sums,
    cases: Sums,
    lo: datetime,
    hi: datetime,
    window: KpiWindow,
    portfolio: sa.Select | None = None,
) -> None:
    dialect = session.get_bind().dialect.name
    a, c = SurveyAnswer, Case
    by = window.by
    # A manager's own customers only, when `portfolio` (their customer ids) is given.
    answered_by = [a.customer_id.in_(portfolio)] if portfolio is not None else []
    opened_for = [c.customer_id.in_(portfolio)] if portfolio is not None else []
    await _scan(
        session,
        answers,
        sa.select(
            _count(a.survey == "csat").label("csat_n"),
            _count(sa.and_(a.survey == "csat", a.score >= 4)).label("csat_satisfied"),
            _count(a.survey == "nps").label("nps_n"),
            _count(sa.and_(a.survey == "nps", a.score >= 9)).label("nps_promoters"),
            _count(sa.and_(a.survey == "nps", a.score <= 6)).label("nps_detractors"),
            _count(a.survey == "ces").label("ces_n"),
            _sum(a.survey == "ces", a.score).label("ces_sum"),
        ).where(a.received_at >= lo, a.received_at < hi, *answered_by),
        getattr(a, by) if by else None,
        a.received_at,
        window,
    )

    reopens = sa.exists().where(aliased(Case, name="reopen").reopened_from == c.id)
    original = c.reopened_from.is_(None)
    await _scan(
        session,
        cases,
        sa.select(
            sa.func.count().label("cases"),
            _count(sa.and_(c.kind == "complaint", original)).label("complaints"),
            _count(c.sla_breached).label("breached"),
            _count(c.first_answer_at.is_not(None)).label("answered"),
            _sum(c.first_answer_at.is_not(None), _hours(c.first_answer_at, c.opened_at, dialect)).label(
                "first_answer_hours"
            ),
            _count(c.resolved_at.is_not(None)).label("resolved"),
            _sum(c.resolved_at.is_not(None), _hours(c.resolved_at, c.opened_at, dialect)).label("resolve_hours"),
            _count(sa.and_(original, c.resolved_at.is_not(None))).label("resolved_originals"),
            _count(sa.and_(original, c.resolved_at.is_not(None), reopens)).label("reopened"),
        ).where(c.opened_at >= lo, c.opened_at < hi, *opened_for),
        getattr(c, by) if by else None,
        c.opened_at,
        window,
    )

    # In time: the follow-up was closed before its (pause-adjusted) deadlines.
    follow_up = aliased(Case, name="follow_up")
    in_time = sa.and_(follow_up.closed_at.is_not(None), follow_up.sla_breached.is_(False))
    await _scan(
        session,
        answers,
        sa.select(
            sa.func.count().label("detractors"),
            _count(in_time).label("in_time"),
        )
        .select_from(a)
        .outerjoin(
            follow_up,
            sa.and_(follow_up.answer_id == a.id, follow_up.kind == "follow_up", follow_up.reopened_from.is_(None)),
        )
        .where(a.detractor.is_(True), a.received_at >= lo, a.received_at < hi, *answered_by),
        getattr(a, by) if by else None,
        a.received_at,
        window,
    )


async def _read_sums(
    session: AsyncSession, answers: Sums, cases: Sums, lo: datetime, hi: datetime, window: KpiWindow, *, daily: bool
) -> None:
    by = window.by
    for sums, hourly, daily_model, names in (
        (answers, AnswerHourly, AnswerDaily, ANSWER_SUMS),
        (cases, CaseHourly, CaseDaily, CASE_SUMS),
    ):
        model: Any = daily_model if daily else hourly
        query = sa.select(*[sa.func.sum(getattr(model, name)).label(name) for name in names])
        if daily:  # the rows of the breakdown asked for, or the day's totals
            period, key = model.day, model.value if by else None
            query = query.where(model.dimension == (by or ""))
        else:
            period, key = model.hour, getattr(model, by) if by else None
        await _scan(session, sums, query.where(period >= lo, period < hi), key, period, window)


async def report(
    session: AsyncSession, window: KpiWindow, *, use_hourly_sums: bool = True, manager: str | None = None
) -> KpiReport:
    """`use_hourly_sums=False` scans every item of the window instead of reading the hourly and
    daily sums (the tests' and the benchmark's comparison). With `manager`, the figures of the
    customers that manager has now: scanned, by the customer-id indexes (a portfolio is a few
    hundred customers; the sums have no manager dimension)."""
    answers, cases = Sums(), Sums()
    known: sa.ColumnElement[bool] = known_customers.c.erased_at.is_(None)
    portfolio = None
    if manager is not None:
        known = sa.and_(known, known_customers.c.relationship_manager_id == manager)
        portfolio = sa.select(known_customers.c.customer_id).where(known)
        use_hourly_sums = False
    edges, hours, days = _split(window) if use_hourly_sums else ([(window.start, window.end)], [], None)
    for lo, hi in edges:
        await _scan_items(session, answers, cases, lo, hi, window, portfolio)
    for lo, hi in hours:
        await _read_sums(session, answers, cases, lo, hi, window, daily=False)
    if days:
        await _read_sums(session, answers, cases, *days, window, daily=True)
    by = window.by

    # Complaint rate: per 1,000 customers known to the service (per tier for the tier breakdown).
    per_tier: dict[str | None, int] = dict(
        (
            await session.execute(
                sa.select(known_customers.c.tier, sa.func.count()).where(known).group_by(known_customers.c.tier)
            )
        ).all()
    )
    customers = sum(per_tier.values())
    cases.total["customers"] = customers
    for key, sums in cases.by_key.items():
        sums["customers"] = per_tier.get(None if key == UNKNOWN else key, 0) if by == "tier" else customers
    for sums in cases.by_bucket.values():
        sums["customers"] = customers

    sources = {"answers": answers, "cases": cases}
    query = {"from": window.start.isoformat(), "to": window.end.isoformat()}
    kpis = []
    for definition in DEFINITIONS:
        source = sources[definition.source]
        value, count = definition.compute(source.total)
        separator = "&" if "?" in definition.drill else "?"
        kpis.append(
            Kpi(
                name=definition.name,
                unit=definition.unit,
                value=value,
                count=count,
                # Groups and buckets without an item this KPI counts are left out.
                breakdown=[
                    KpiGroup(key=key, value=v, count=n)
                    for key, group in sorted(source.by_key.items())
                    for v, n in [definition.compute(group)]
                    if n
                ],
                series=[
                    KpiPoint(bucket=day, value=v, count=n)
                    for day, group in sorted(source.by_bucket.items())
                    for v, n in [definition.compute(group)]
                    if n
                ],
                drill=definition.drill + separator + urlencode(query),
            )
        )
    return KpiReport.of("service", window, kpis)
