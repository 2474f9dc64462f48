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
    Kpi,
    KpiGroup,
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
    scope: list[sa.ColumnElement[bool]] = [Customer.erased_at.is_(None)]
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
            new_series = await _summed_series(session, window, "customers", Customer.created_at, scope)
            churn_series = await _summed_series(
                session, window, "churned", StageChange.at, [*scope, _CHURNED], _CUSTOMER_MOVES
            )
        for key, *row in rows:
            # A group is listed under a KPI only if some of its customers count there.
            for measured, value, counted in zip(totals[:5], row, (row[0], row[0], row[2], row[3], row[4]), strict=True):
                add_to(measured, key if counted else None, value)
        for key, *counts in events:
            for measured, value in zip((churned, expiring_docs), counts, strict=True):
                add_to(measured, key if value else None, value)

    def kpi(name, unit, values, *, series=None, drill=None):
        total = values.get(None, 0)
        return Kpi(
            name=name,
            unit=unit,
            value=float(total),
            count=int(book.get(None, 0)),
            breakdown=[
                KpiGroup(key=str(k), value=float(v), count=int(book.get(k, 0)))
                for k, v in values.items()
                if k is not None
            ],
            series=series or [],
            drill=drill,
        )

    churn_rate = {k: ratio(churned.get(k, 0), at_start.get(k, 0)) for k in set(at_start) | set(churned)}
    high_risk_share = {k: ratio(high_risk.get(k, 0), book.get(k, 0)) for k in book}
    return KpiReport.of(
        "customers",
        window,
        [
            kpi("customers", "count", book, drill="/api/v1/customers"),
            kpi("new_customers", "count", new, series=new_series, drill="/api/v1/customers?stage=prospect"),
            kpi("churned_customers", "count", churned, series=churn_series, drill="/api/v1/customers?stage=churned"),
            _ratio_kpi("churn_rate", churn_rate, at_start),
            kpi("assets_under_management", "currency", assets),
            _ratio_kpi("high_risk_appetite_share", high_risk_share, book),
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
        .where(*scope)
        .group_by(*keys)
    )
    return rows, [(row[0] if keys else None, *row[len(keys) :]) for row in await session.execute(query)]


async def _summed(session, window: KpiWindow, scope: list, expires_by: date) -> tuple[list[BookRow], list[EventRow]]:
    """The figures per group of the whole bank, each the difference of two sums up to a moment
    (the customers created and the churn moves made before the window's end, and before its
    start; the documents expiring before the day after `expires_by`). Without a breakdown the
    tier rows (every customer has a tier) make the total."""
    dimension = window.by or "tier"
    at_end = await _sums_before(session, dimension, window.end, scope)
    at_start = await _sums_before(session, dimension, window.start, scope)
    expiring = await _sums_before(session, dimension, _midnight(expires_by + timedelta(days=1)), scope)
    figures: dict[Any, list] = {}
    for value in set(at_end) | set(at_start) | set(expiring):
        key = (value or None) if window.by else None
        end, start = at_end.get(value, _NOTHING), at_start.get(value, _NOTHING)
        summed = figures.setdefault(key, [0] * 6)
        for i, n in enumerate((*end[:3], start[0], end[3] - start[3], expiring.get(value, _NOTHING)[4])):
            summed[i] += n
    ordered = sorted(figures.items(), key=lambda item: str(item[0] or ""))
    return (
        [(key, book, assets, high, before, book - before) for key, (book, assets, high, before, *_) in ordered],
        [(key, moves, documents) for key, (*_, moves, documents) in ordered],
    )


_NOTHING = (0, 0, 0, 0, 0)


def _midnight(moment: datetime | date) -> datetime:
    if not isinstance(moment, datetime):
        return datetime(moment.year, moment.month, moment.day, tzinfo=UTC)
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


async def _sums_before(session, dimension: str, moment: datetime, scope: list) -> dict[str, tuple]:
    """Per value of `dimension` ('' for none), the book's sums (customers, assets, high risk,
    churn moves, documents) before `moment`: its years, months and days before it, plus the customers
    created and churn moves made in its own day up to it (documents expire on whole days: only
    a midnight counts them all)."""
    day = _midnight(moment)
    month = day.replace(day=1)
    year = month.replace(month=1)
    sums = [BookSums.value, *(getattr(BookSums, name) for name in book_sums)]
    summed = sa.select(*sums).where(
        BookSums.dimension == dimension,
        sa.or_(
            sa.and_(BookSums.period == "year", BookSums.starts_on < year.date()),
            sa.and_(BookSums.period == "month", BookSums.starts_on >= year.date(), BookSums.starts_on < month.date()),
            sa.and_(BookSums.period == "day", BookSums.starts_on >= month.date(), BookSums.starts_on < day.date()),
        ),
    )
    group = sa.func.coalesce(BREAKDOWNS[dimension], "")
    high = sa.case((Customer.risk_level.in_(HIGH_RISK_LEVELS), 1), else_=0)
    one, zero = sa.literal(1), sa.literal(0)
    created = sa.select(group, one, Customer.assets_under_management, high, zero, zero).where(
        *scope, Customer.created_at >= day, Customer.created_at < moment
    )
    moves = (
        sa.select(group, zero, zero, zero, one, zero)
        .select_from(_CUSTOMER_MOVES)
        .where(*scope, _CHURNED, StageChange.at >= day, StageChange.at < moment)
    )
    rows = sa.union_all(summed, created, moves).subquery()
    query = sa.select(rows.c.value, *(sa.func.sum(rows.c[name]) for name in book_sums)).group_by(rows.c.value)
    return {value: tuple(sums) for value, *sums in await session.execute(query)}


async def _summed_series(session, window: KpiWindow, name: str, column, where: list, from_=None) -> list[KpiPoint]:
    """The rows whose `column` falls in the window per bucket, for the whole bank: the book's
    day sums `name` for the whole days of the window, the rows themselves (`from_`, `where`)
    for the parts of a day at its edges."""
    first, last = _midnight(window.start), _midnight(window.end)
    if first < window.start:
        first += timedelta(days=1)
    per_day: dict[date, int] = {}
    if first < last:
        days = (
            sa.select(BookSums.starts_on, sa.func.sum(getattr(BookSums, name)))
            .where(
                BookSums.dimension == "tier",
                BookSums.period == "day",
                BookSums.starts_on >= first.date(),
                BookSums.starts_on < last.date(),
            )
            .group_by(BookSums.starts_on)
        )
        per_day.update((as_date(day), int(n)) for day, n in await session.execute(days))
        edges = sa.or_(sa.and_(column >= window.start, column < first), sa.and_(column >= last, column < window.end))
    else:
        edges = sa.and_(column >= window.start, column < window.end)
    day_of = bucket_start(column, "day", session.get_bind().dialect.name)
    query = sa.select(day_of, sa.func.count()).where(*where, edges).group_by(day_of)
    for day, n in await session.execute(query if from_ is None else query.select_from(from_)):
        per_day[as_date(day)] = per_day.get(as_date(day), 0) + n
    return points(per_day, window.bucket)


def _ratio_kpi(name: str, values: dict, denominators: dict) -> Kpi:
    return Kpi(
        name=name,
        unit="ratio",
        value=values.get(None),
        count=int(denominators.get(None, 0)),
        breakdown=[
            KpiGroup(key=str(k), value=v, count=int(denominators.get(k, 0))) for k, v in values.items() if k is not None
        ],
    )
