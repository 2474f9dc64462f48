"""Customer KPIs over the profile's own data: the book by tier and stage, new and churned
customers, assets, and portfolio risk indicators per relationship manager (R5.2, R6.2, R7.2)."""

from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Request

from events.contracts.terms import Stage
from services.kit.db import SessionDep
from services.kit.identity import ActorDep
from services.kit.kpi import (
    KpiPoint,
    KpiReport,
    KpiWindow,
    add_to,
    as_date,
    bucket_start,
    count_in_window,
    kpi_query,
    points,
    ratio,
    ratio_kpi,
    totals_kpi,
)
from services.kit.problems import PROBLEM_RESPONSES
from services.profile.book import COLUMNS as book_columns
from services.profile.book import HIGH_RISK_LEVELS, BookSums
from services.profile.book import SUMS as book_sums
from services.profile.documents import Document
from services.profile.models import Customer, StageChange

router = APIRouter(prefix="/api/v1/kpis", tags=["kpis"], responses=PROBLEM_RESPONSES)

# The breakdowns (tier, stage, manager, risk level): the ones the book's sums keep.
BREAKDOWNS = {name: Customer.__table__.c[column] for name, column in book_columns.items()}


@router.get("/customers", response_model=KpiReport, summary="Customer KPIs: book, new, churned, assets, risk")
async def customer_kpis(
    session: SessionDep, actor: ActorDep, request: Request, window: KpiWindow = kpi_query(*BREAKDOWNS)
) -> KpiReport:
    # Erased customers count too (R2.2: their rows keep the aggregates; the book sums them).
    scope: list[sa.ColumnElement[bool]] = []
    portfolio = actor.role in request.app.state.settings.assigned_only_roles
    if portfolio:
        scope.append(Customer.relationship_manager_id == actor.id)  # a manager's own portfolio only
    notice_days = request.app.state.settings.document_expiry_notice_days
    group = BREAKDOWNS[window.by] if window.by else None

    expires_by = as_date(window.end + timedelta(days=notice_days))
    async with session.begin():
        # The book as of the window's end and at its start, assets, risk appetite, new customers;
        # churn moves in the window, identity documents expiring by the notice date.
        totals: list[dict[Any, Any]] = [{None: 0} for _ in range(7)]
        book, assets, high_risk, at_start, new, churned, expiring_docs = totals
        if portfolio:  # few enough customers to count one by one
            rows, events = await _scanned(session, window, scope, group, expires_by)
            _, new_series = await count_in_window(session, Customer.created_at, window, where=scope)
            _, churn_series = await count_in_window(
                session, StageChange.at, window, where=[*scope, _CHURNED], from_=_CUSTOMER_MOVES
            )
        else:  # the whole bank: from the book's sums per day, month and year (book.py)
            rows, events = await _summed(session, window, scope, expires_by)
            new_series, churn_series = await _summed_series(session, window, scope)
        for key, *row in rows:
            # A group is listed under a KPI only if some of its customers count there.
            for measured, value, counted in zip(totals[:5], row, (row[0], row[0], row[2], row[3], row[4]), strict=True):
                add_to(measured, key if counted else None, value)
        for key, *counts in events:
            for measured, value in zip((churned, expiring_docs), counts, strict=True):
                add_to(measured, key if value else None, value)

    def kpi(name, unit, values, **shown):
        return totals_kpi(name, unit, values, counts=book, **shown)

    churn_rate = {k: ratio(churned.get(k, 0), at_start.get(k, 0)) for k in set(at_start) | set(churned)}
    high_risk_share = {k: ratio(high_risk.get(k, 0), book.get(k, 0)) for k in book}
    return KpiReport.of(
        "customers",
        window,
        [
            kpi("customers", "count", book, drill="/api/v1/customers"),
            kpi("new_customers", "count", new, series=new_series, drill="/api/v1/customers?stage=prospect"),
            kpi("churned_customers", "count", churned, series=churn_series, drill="/api/v1/customers?stage=churned"),
            ratio_kpi("churn_rate", churn_rate, at_start),
            kpi("assets_under_management", "currency", assets),
            ratio_kpi("high_risk_appetite_share", high_risk_share, book),
            kpi("kyc_documents_expiring", "count", expiring_docs, drill="/api/v1/documents/expiring"),
        ],
    )


BookRow = tuple[Any, int, Any, int, int, int]  # group value, book, assets, high risk, at start, new
EventRow = tuple[Any, int, int]  # group value, churn moves, expiring documents
_CHURNED = StageChange.to_stage == Stage.CHURNED
_CUSTOMER_MOVES = sa.join(Customer, StageChange, Customer.id == StageChange.customer_id)


async def _scanned(
    session, window: KpiWindow, scope: list, group, expires_by: date
) -> tuple[list[BookRow], list[EventRow]]:
    """The figures per group by one pass over the customers in `scope`, and one join of their
    churn moves and expiring documents to them."""
    existing = Customer.created_at < window.end
    measures = (
        sa.func.count().filter(existing),
        sa.func.coalesce(sa.func.sum(Customer.assets_under_management).filter(existing), 0),
        sa.func.count().filter(sa.and_(existing, Customer.risk_level.in_(HIGH_RISK_LEVELS))),
        sa.func.count().filter(Customer.created_at < window.start),
        sa.func.count().filter(Customer.created_at >= window.start, existing),
    )
    keys = [group] if group is not None else []
    query = sa.select(*keys, *measures).where(*scope).group_by(*keys)
    rows = [(row[0] if keys else None, *row[len(keys) :]) for row in await session.execute(query)]
    in_window = StageChange.at >= window.start, StageChange.at < window.end
    events = sa.union_all(
        sa.select(StageChange.customer_id, sa.literal("churned").label("kind")).where(_CHURNED, *in_window),
        sa.select(Document.customer_id, sa.literal("document").label("kind")).where(Document.expires_on <= expires_by),
    ).subquery()
    query = (
        sa.select(
            *keys,
            sa.func.count().filter(events.c.kind == "churned"),
            sa.func.count().filter(events.c.kind == "document"),
        )
        .select_from(sa.join(Customer, events, Customer.id == events.c.customer_id))
        # An erased customer's documents are up for renewal no more (as in the book).
        .where(*scope, sa.or_(events.c.kind != "document", Customer.erased_at.is_(None)))
        .group_by(*keys)
    )
    return rows, [(row[0] if keys else None, *row[len(keys) :]) for row in await session.execute(query)]


async def _summed(session, window: KpiWindow, scope: list, expires_by: date) -> tuple[list[BookRow], list[EventRow]]:
    """The figures per group of the whole bank from three sums of the book: everything before
    the window's end (the book, its assets and risk), the window itself (new customers, churn
    moves; the book at its start is the one at its end less the new), and the documents expiring
    by `expires_by`. Without a breakdown the tier rows (every customer has a tier) make the total."""
    ranges = ((None, window.end), (window.start, window.end), (None, _midnight(expires_by + timedelta(days=1))))
    at_end, within, expiring = await _sums_within(session, window.by or "tier", ranges, scope)
    figures: dict[Any, list] = {}
    for value in set(at_end) | set(within) | set(expiring):
        key = (value or None) if window.by else None
        end, new = at_end.get(value, _NOTHING), within.get(value, _NOTHING)
        summed = figures.setdefault(key, [0] * 7)
        for i, n in enumerate((*end[:3], end[0] - new[0], new[0], new[3], expiring.get(value, _NOTHING)[4])):
            summed[i] += n
    ordered = sorted(figures.items(), key=lambda item: str(item[0] or ""))
    return (
        [(key, *figures[:5]) for key, figures in ordered],
        [(key, moves, documents) for key, (*_, moves, documents) in ordered],
    )


_NOTHING = (0, 0, 0, 0, 0)


def _midnight(moment: datetime | date) -> datetime:
    if not isinstance(moment, datetime):
        return datetime(moment.year, moment.month, moment.day, tzinfo=UTC)
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def _whole_days(start: datetime | None, end: datetime) -> tuple[datetime | None, datetime, list[tuple]]:
    """[start, end) as its whole days [first, last) (from the beginning when `start` is None) and
    the parts of a day at its edges."""
    last = _midnight(end)
    if start is None:
        return None, last, [(last, end)] if last < end else []
    first = _midnight(start)
    if first < start:
        first += timedelta(days=1)
    if first >= last:
        return first, first, [(start, end)]
    return first, last, [(lo, hi) for lo, hi in ((start, first), (last, end)) if lo < hi]


def _periods(first: date | None, last: date) -> sa.ColumnElement[bool]:
    """The book's rows covering the days [first, last) exactly, fewest first: days up to a month,
    months up to a year, years, then months and days again up to `last`."""
    covering: list[sa.ColumnElement[bool]] = []

    def cover(period: str, lo: date | None, hi: date) -> date:
        since = [BookSums.starts_on >= lo] if lo is not None else []
        covering.append(sa.and_(BookSums.period == period, *since, BookSums.starts_on < hi))
        return hi

    day = first
    if day is not None and day < last and day.day != 1:
        next_month = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
        day = cover("day", day, min(next_month, last))
    if day is not None and day < last and day.month != 1:
        day = (
            cover("month", day, min(date(day.year + 1, 1, 1), last.replace(day=1)))
            if day < last.replace(day=1)
            else day
        )
    if day is None or (day.month == 1 and day.day == 1 and day < date(last.year, 1, 1)):
        day = cover("year", day, date(last.year, 1, 1))
    if day < last.replace(day=1):
        day = cover("month", day, last.replace(day=1))
    if day < last:
        cover("day", day, last)
    return sa.or_(*covering) if covering else sa.false()


async def _sums_within(session, dimension: str, ranges: tuple, scope: list) -> list[dict[str, tuple]]:
    """For each (start or None, end) of `ranges`, per value of `dimension` ('' for none), the
    book's sums (customers, assets, high risk, churn moves, documents) of the moments in it: its
    whole years, months and days, plus the customers created and churn moves made in the parts
    of a day at its edges (documents expire on whole days: their ranges end at a midnight). One
    statement for all."""
    group = sa.func.coalesce(BREAKDOWNS[dimension], "")
    high = sa.case((Customer.risk_level.in_(HIGH_RISK_LEVELS), 1), else_=0)
    one, zero = sa.literal(1), sa.literal(0)
    parts = []
    for i, (start, end) in enumerate(ranges):
        first, last, edges = _whole_days(start, end)
        at = sa.literal(i).label("range")
        parts.append(
            sa.select(at, BookSums.value, *(getattr(BookSums, name) for name in book_sums)).where(
                BookSums.dimension == dimension, _periods(first and first.date(), last.date())
            )
        )
        for lo, hi in edges:
            parts += [
                sa.select(at, group, one, Customer.assets_under_management, high, zero, zero).where(
                    *scope, Customer.created_at >= lo, Customer.created_at < hi
                ),
                sa.select(at, group, zero, zero, zero, one, zero)
                .select_from(_CUSTOMER_MOVES)
                .where(*scope, _CHURNED, StageChange.at >= lo, StageChange.at < hi),
            ]
    rows = sa.union_all(*parts).subquery()
    query = sa.select(rows.c.range, rows.c.value, *(sa.func.sum(rows.c[name]) for name in book_sums)).group_by(
        rows.c.range, rows.c.value
    )
    sums: list[dict[str, tuple]] = [{} for _ in ranges]
    for i, value, *summed in await session.execute(query):
        sums[i][value] = tuple(summed)
    return sums


async def _summed_series(session, window: KpiWindow, scope: list) -> tuple[list[KpiPoint], list[KpiPoint]]:
    """New customers and churn moves per bucket, for the whole bank: the book's day sums for the
    whole days of the window, the customers and moves themselves for the parts of a day at its
    edges."""
    first, last = _midnight(window.start), _midnight(window.end)
    if first < window.start:
        first += timedelta(days=1)
    new: dict[date, int] = {}
    moves: dict[date, int] = {}
    if first < last:
        days = (
            sa.select(BookSums.starts_on, sa.func.sum(BookSums.customers), sa.func.sum(BookSums.churned))
            .where(
                BookSums.dimension == "tier",
                BookSums.period == "day",
                BookSums.starts_on >= first.date(),
                BookSums.starts_on < last.date(),
            )
            .group_by(BookSums.starts_on)
        )
        for day, created, churned in await session.execute(days):
            new[as_date(day)], moves[as_date(day)] = int(created), int(churned)

    def edges(column):
        if first < last:
            return sa.or_(sa.and_(column >= window.start, column < first), sa.and_(column >= last, column < window.end))
        return sa.and_(column >= window.start, column < window.end)

    dialect = session.get_bind().dialect.name
    created_on, moved_on = (
        bucket_start(Customer.created_at, "day", dialect),
        bucket_start(StageChange.at, "day", dialect),
    )
    rows = sa.union_all(
        sa.select(sa.literal(True).label("created"), created_on.label("day")).where(*scope, edges(Customer.created_at)),
        sa.select(sa.literal(False), moved_on)
        .select_from(_CUSTOMER_MOVES)
        .where(*scope, _CHURNED, edges(StageChange.at)),
    ).subquery()
    query = sa.select(rows.c.created, rows.c.day, sa.func.count()).group_by(rows.c.created, rows.c.day)
    for created, day, n in await session.execute(query):
        counts = new if created else moves
        counts[as_date(day)] = counts.get(as_date(day), 0) + n
    return points(new, window.bucket), points(moves, window.bucket)
