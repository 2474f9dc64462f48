"""`GET /api/v1/kpis/recommendation`: suitability checks by result, overrides, mismatches."""

from collections import defaultdict
from datetime import date
from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter

from services.kit.db import SessionDep
from services.kit.kpi import Kpi, KpiGroup, KpiPoint, KpiReport, KpiWindow, as_date, bucket_start, kpi_query
from services.kit.problems import PROBLEM_RESPONSES
from services.recommendation.proof.models import SuitabilityCheck, SuitabilityMismatch

router = APIRouter(prefix="/api/v1/kpis", responses=PROBLEM_RESPONSES, tags=["kpis"])
# The breakdowns and the column each reads (the product's risk level, on checks and mismatches).
BREAKDOWNS = {"product": "product_code", "risk_level": "product_risk_level"}


Counts = dict[tuple[date, str | None], int]  # (bucket, breakdown value) -> items


def _kpi(name: str, counts: Counts, window: KpiWindow, drill: str | None = None) -> Kpi:
    """A count KPI over items counted per (bucket, breakdown value)."""
    breakdown: list[KpiGroup] = []
    if window.by:
        per_key: dict[str, int] = defaultdict(int)
        for (_, key), n in counts.items():
            per_key[key or "none"] += n
        breakdown = [KpiGroup(key=k, value=v, count=v) for k, v in sorted(per_key.items())]
    series: dict[date, int] = defaultdict(int)
    for (day, _), n in counts.items():
        series[day] += n
    total = sum(counts.values())
    return Kpi(
        name=name,
        value=total,
        unit="count",
        count=total,
        breakdown=breakdown,
        series=[KpiPoint(bucket=k, value=v, count=v) for k, v in sorted(series.items())],
        drill=drill,
    )


async def _counted(session, model, moment, window: KpiWindow, *flags) -> list[tuple]:
    """Items in the window counted per bucket, breakdown value and `flags`, by the database."""
    bucket = bucket_start(moment, window.bucket, session.bind.dialect.name).label("bucket")
    key = getattr(model, BREAKDOWNS[window.by]) if window.by else sa.null()
    query = (
        sa.select(bucket, key.label("key"), *flags, sa.func.count())
        .where(moment >= window.start, moment < window.end)
        .group_by(bucket, *([key] if window.by else []), *flags)
    )
    return [(as_date(row[0]), *row[1:]) for row in await session.execute(query)]


@router.get("/recommendation", response_model=KpiReport)
async def recommendation_kpis(session: SessionDep, window: Annotated[KpiWindow, kpi_query(*BREAKDOWNS)]) -> KpiReport:
    """Suitability checks by result (`checks_pass`, `checks_warn`, `checks_block`), overrides and
    mismatches detected, over the window; `by=product` or `by=risk_level` (the product's)."""
    c, m = SuitabilityCheck, SuitabilityMismatch
    by_result: dict[str, Counts] = {result: defaultdict(int) for result in ("pass", "warn", "block")}
    overrides: Counts = defaultdict(int)
    for day, key, result, overridden, n in await _counted(session, c, c.decided_at, window, c.result, c.overridden):
        by_result.setdefault(result, defaultdict(int))[(day, key)] += n
        if overridden:
            overrides[(day, key)] += n
    mismatches: Counts = defaultdict(int)
    for day, key, n in await _counted(session, m, m.detected_at, window):
        mismatches[(day, key)] += n
    kpis = [_kpi(f"checks_{result}", by_result[result], window) for result in ("pass", "warn", "block")]
    kpis.append(_kpi("overrides", overrides, window))
    kpis.append(_kpi("suitability_mismatches", mismatches, window))
    return KpiReport.of("recommendation", window, kpis)
