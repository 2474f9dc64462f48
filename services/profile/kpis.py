"""Customer KPIs over the profile's own data: the book by tier and stage, new and churned
customers, assets, and portfolio risk indicators per relationship manager (R5.2, R6.2, R7.2)."""

from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Request

from events.contracts.terms import RiskLevel, Stage
from services.kit.db import SessionDep
from services.kit.identity import ActorDep
from services.kit.kpi import Kpi, KpiGroup, KpiReport, KpiWindow, add_to, as_date, count_in_window, kpi_query, ratio
from services.kit.problems import PROBLEM_RESPONSES
from services.profile.documents import Document
from services.profile.models import Customer, StageChange

router = APIRouter(prefix="/api/v1/kpis", tags=["kpis"], responses=PROBLEM_RESPONSES)

BREAKDOWNS = {
    "tier": Customer.tier,
    "stage": Customer.lifecycle_stage,
    "manager": Customer.relationship_manager_id,
    "risk_level": Customer.risk_level,
}
HIGH_RISK_LEVELS = (RiskLevel.C4, RiskLevel.C5)


@router.get("/customers", response_model=KpiReport, summary="Customer KPIs: book, new, churned, assets, risk")
async def customer_kpis(
    session: SessionDep, actor: ActorDep, request: Request, window: KpiWindow = kpi_query(*BREAKDOWNS)
) -> KpiReport:
    scope: list[sa.ColumnElement[bool]] = [Customer.erased_at.is_(None)]
    if actor.role in request.app.state.settings.assigned_only_roles:
        scope.append(Customer.relationship_manager_id == actor.id)  # a manager's own portfolio only
    notice_days = request.app.state.settings.document_expiry_notice_days
    group = BREAKDOWNS[window.by] if window.by else None
    existing = Customer.created_at < window.end
    keys = [group] if group is not None else []

    churned_in_window = (
        sa.select(StageChange.customer_id, StageChange.at)
        .where(StageChange.to_stage == Stage.CHURNED, StageChange.at >= window.start, StageChange.at < window.end)
        .subquery()
    )
    # The customers' events the KPIs count besides the customers themselves: churn moves in the
    # window and identity documents expiring by the notice date, matched to the customers (their
    # scope and group) by one join for both.
    expiring = Document.expires_on <= as_date(window.end + timedelta(days=notice_days))
    events = sa.union_all(
        sa.select(churned_in_window.c.customer_id, sa.literal("churned").label("kind")),
        sa.select(Document.customer_id, sa.literal("document").label("kind")).where(expiring),
    ).subquery()

    async with session.begin():
        # The book as of the window's end and at its start, assets, risk appetite, new customers:
        # one pass over the customers.
        totals: list[dict[Any, Any]] = [{None: 0} for _ in range(7)]
        book, assets, high_risk, at_start, new, churned, expiring_docs = totals
        measures = (
            sa.func.count().filter(existing),
            sa.func.coalesce(sa.func.sum(Customer.assets_under_management).filter(existing), 0),
            sa.func.count().filter(sa.and_(existing, Customer.risk_level.in_(HIGH_RISK_LEVELS))),
            sa.func.count().filter(Customer.created_at < window.start),
            sa.func.count().filter(Customer.created_at >= window.start, existing),
        )
        for row in await session.execute(sa.select(*measures, *keys).where(*scope).group_by(*keys)):
            key = row[5] if keys else None
            # A group is listed under a KPI only if some of its customers count there.
            for measured, value, rows in zip(
                totals[:5], row[:5], (row[0], row[0], row[2], row[3], row[4]), strict=True
            ):
                add_to(measured, key if rows else None, value)
        # Churned customers and expiring documents: one join of both to the customers.
        query = (
            sa.select(
                sa.func.count().filter(events.c.kind == "churned"),
                sa.func.count().filter(events.c.kind == "document"),
                *keys,
            )
            .select_from(sa.join(Customer, events, Customer.id == events.c.customer_id))
            .where(*scope)
            .group_by(*keys)
        )
        for counted in await session.execute(query):
            group_key = counted[2] if keys else None
            for measured, value in zip((churned, expiring_docs), counted[:2], strict=True):
                add_to(measured, group_key if value else None, value)
        _, new_series = await count_in_window(session, Customer.created_at, window, where=scope)
        _, churn_series = await count_in_window(
            session,
            churned_in_window.c.at,
            window,
            where=scope,
            from_=sa.join(Customer, churned_in_window, Customer.id == churned_in_window.c.customer_id),
        )

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
