"""`GET /api/v1/kpis/recommendation`: suitability checks by result, overrides, mismatches."""

from collections.abc import Sequence
from datetime import date
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter

from services.kit.db import SessionDep
from services.kit.kpi import Kpi, KpiGroup, KpiPoint, KpiReport, KpiWindow, bucket_of, kpi_query
from services.kit.problems import PROBLEM_RESPONSES
from services.recommendation.proof.models import SuitabilityCheck, SuitabilityMismatch

router = APIRouter(prefix="/api/v1/kpis", responses=PROBLEM_RESPONSES, tags=["kpis"])
BREAKDOWNS = ("product", "risk_level")


def _kpi(name: str, rows: Sequence[Sequence[Any]], window: KpiWindow, drill: str | None = None) -> Kpi:
    """A count KPI over (time, product, risk level) rows."""
    breakdown: list[KpiGroup] = []
    if window.by:
        index = 1 if window.by == "product" else 2
        counts: dict[str, int] = {}
        for row in rows:
            counts[row[index] or "none"] = counts.get(row[index] or "none", 0) + 1
        breakdown = [KpiGroup(key=k, value=v, count=v) for k, v in sorted(counts.items())]
    series: dict[date, int] = {}
    for row in rows:
        key = bucket_of(row[0].date(), window.bucket)
        series[key] = series.get(key, 0) + 1
    return Kpi(
        name=name,
        value=len(rows),
        unit="count",
        count=len(rows),
        breakdown=breakdown,
        series=[KpiPoint(bucket=k, value=v, count=v) for k, v in sorted(series.items())],
        drill=drill,
    )


@router.get("/recommendation", response_model=KpiReport)
async def recommendation_kpis(session: SessionDep, window: Annotated[KpiWindow, kpi_query(*BREAKDOWNS)]) -> KpiReport:
    """Suitability checks by result (`checks_pass`, `checks_warn`, `checks_block`), overrides and
    mismatches detected, over the window; `by=product` or `by=risk_level` (the product's)."""
    c = SuitabilityCheck
    checks = (
        await session.execute(
            sa.select(c.decided_at, c.product_code, c.product_risk_level, c.result, c.overridden).where(
                c.decided_at >= window.start, c.decided_at < window.end
            )
        )
    ).all()
    m = SuitabilityMismatch
    mismatches = (
        await session.execute(
            sa.select(m.detected_at, m.product_code, m.product_risk_level).where(
                m.detected_at >= window.start, m.detected_at < window.end
            )
        )
    ).all()
    kpis = [
        _kpi(f"checks_{result}", [r[:3] for r in checks if r.result == result], window)
        for result in ("pass", "warn", "block")
    ]
    kpis.append(_kpi("overrides", [r[:3] for r in checks if r.overridden], window))
    kpis.append(_kpi("suitability_mismatches", [tuple(r) for r in mismatches], window))
    return KpiReport.of("recommendation", window, kpis)
