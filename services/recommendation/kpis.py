"""`GET /api/v1/kpis/recommendation`: suitability checks by result, overrides, mismatches.

Whole UTC days come from the daily counts the database keeps (services/kit/daily_counts.py); only
the partial days at the window's edges are counted from the checks and mismatches themselves."""

from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter

from services.kit.db import SessionDep
from services.kit.kpi import (
    Kpi,
    KpiGroup,
    KpiPoint,
    KpiReport,
    KpiWindow,
    as_date,
    bucket_of,
    bucket_start,
    kpi_query,
)
from services.kit.problems import PROBLEM_RESPONSES
from services.recommendation.proof.models import (
    SuitabilityCheck,
    SuitabilityCheckDay,
    SuitabilityMismatch,
    SuitabilityMismatchDay,
)

router = APIRouter(prefix="/api/v1/kpis", responses=PROBLEM_RESPONSES, tags=["kpis"])
# The breakdowns and the column each reads (the product's risk level, on checks and mismatches).
BREAKDOWNS = {"product": "product_code", "risk_level": "product_risk_level"}


def _kpi(name: str, per_bucket: dict[date, int], per_key: dict[str | None, int], window: KpiWindow) -> Kpi:
    """A count KPI over items counted per bucket and per breakdown value."""
    total = sum(per_bucket.values())
    breakdown: list[KpiGroup] = []
    if window.by:
        keyed: dict[str, int] = defaultdict(int)
        for key, n in per_key.items():
            keyed[key or "none"] += n
        breakdown = [KpiGroup(key=k, value=v, count=v) for k, v in sorted(keyed.items())]
    return Kpi(
        name=name,
        value=total,
        unit="count",
        count=total,
        breakdown=breakdown,
        series=[KpiPoint(bucket=k, value=v, count=v) for k, v in sorted(per_bucket.items())],
    )


async def _counted(session, model, moment, window: KpiWindow, since, until, *flags, by_key: bool) -> list[tuple]:
    """Items between `since` and `until` counted from their rows per bucket (or breakdown value)
    and `flags`."""
    if by_key:
        group = getattr(model, BREAKDOWNS[window.by or ""])
    else:
        group = bucket_start(moment, window.bucket, session.get_bind().dialect.name)
    query = sa.select(group, *flags, sa.func.count()).where(moment >= since, moment < until).group_by(group, *flags)
    return [(row[0] if by_key else as_date(row[0]), *row[1:]) for row in await session.execute(query)]


async def _counted_by_day(
    session, days, window: KpiWindow, first: date, last: date, *flags, by_key: bool
) -> list[tuple]:
    """The same counts over whole days from `first` to `last` (excluded), from the daily counts."""
    group = getattr(days, BREAKDOWNS[window.by or ""]) if by_key else days.day
    query = (
        sa.select(group, *flags, sa.func.sum(days.count))
        .where(days.day >= first, days.day < last)
        .group_by(group, *flags)
    )
    return [
        (row[0] if by_key else bucket_of(as_date(row[0]), window.bucket), *row[1:-1], int(row[-1]))
        for row in await session.execute(query)
    ]


def _parts(window: KpiWindow) -> tuple[list[tuple[datetime, datetime]], tuple[date, date] | None]:
    """The window as its partial days at either edge (counted from the rows) and the whole UTC
    days between them (counted from the daily counts), if it holds any."""
    first = datetime.combine(window.start.astimezone(UTC).date(), time(), UTC)
    if first < window.start:
        first += timedelta(days=1)
    last = datetime.combine(window.end.astimezone(UTC).date(), time(), UTC)
    if first >= last:
        return [(window.start, window.end)], None
    edges = [(since, until) for since, until in ((window.start, first), (last, window.end)) if since < until]
    return edges, (first.date(), last.date())


@router.get("/recommendation", response_model=KpiReport)
async def recommendation_kpis(session: SessionDep, window: Annotated[KpiWindow, kpi_query(*BREAKDOWNS)]) -> KpiReport:
    """Suitability checks by result (`checks_pass`, `checks_warn`, `checks_block`), overrides and
    mismatches detected, over the window; `by=product` or `by=risk_level` (the product's)."""
    c, m = SuitabilityCheck, SuitabilityMismatch
    cd, md = SuitabilityCheckDay, SuitabilityMismatchDay
    results = ("pass", "warn", "block")
    # name -> (per bucket, per breakdown value); series and breakdown are two small groupings.
    counts: dict[str, tuple[defaultdict[Any, int], defaultdict[Any, int]]] = {
        name: (defaultdict(int), defaultdict(int)) for name in (*results, "overrides", "mismatches")
    }
    edges, days = _parts(window)
    for by_key in (False, *([True] if window.by else [])):
        checks, mismatches = [], []
        for since, until in edges:
            checks += await _counted(
                session, c, c.decided_at, window, since, until, c.result, c.overridden, by_key=by_key
            )
            mismatches += await _counted(session, m, m.detected_at, window, since, until, by_key=by_key)
        if days:
            checks += await _counted_by_day(session, cd, window, *days, cd.result, cd.overridden, by_key=by_key)
            mismatches += await _counted_by_day(session, md, window, *days, by_key=by_key)
        for group, result, overridden, n in checks:
            counts.setdefault(result, (defaultdict(int), defaultdict(int)))[by_key][group] += n
            if overridden:
                counts["overrides"][by_key][group] += n
        for group, n in mismatches:
            counts["mismatches"][by_key][group] += n
    kpis = [_kpi(f"checks_{result}", *counts[result], window) for result in results]
    kpis.append(_kpi("overrides", *counts["overrides"], window))
    kpis.append(_kpi("suitability_mismatches", *counts["mismatches"], window))
    return KpiReport.of("recommendation", window, kpis)
