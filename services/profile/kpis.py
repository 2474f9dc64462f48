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
    # Per customer: churn moves in the window and identity documents expiring by the notice date,
    # joined to the one pass over the customers below (not a pass of their own each).
    churn_moves = (
        sa.select(churned_in_window.c.customer_id, sa.func.count().label("n"))
        .group_by(churned_in_window.c.customer_id)
        .subquery()
    )
    expiring = Document.expires_on <= as_date(window.end + timedelta(days=notice_days))
    expiring_per_customer = (
        sa.select(Document.customer_id, sa.func.count().label("n"))
        .where(expiring)
        .group_by(Document.customer_id)
        .subquery()
    )
    customers = sa.outerjoin(Customer, churn_moves, Customer.id == churn_moves.c.customer_id).outerjoin(
        expiring_per_customer, Customer.id == expiring_per_customer.c.customer_id
    )

    async with session.begin():
        # The book as of the window's end and at its start, assets, risk appetite, new and
        # churned customers, expiring documents: one pass.
        totals: list[dict[Any, Any]] = [{None: 0} for _ in range(7)]
        book, assets, high_risk, at_start, new, churned, expiring_docs = totals
        measures = (
            sa.func.count().filter(existing),
            sa.func.coalesce(sa.func.sum(Customer.assets_under_management).filter(existing), 0),
            sa.func.count().filter(sa.and_(existing, Customer.risk_level.in_(HIGH_RISK_LEVELS))),
            sa.func.count().filter(Customer.created_at < window.start),
            sa.func.count().filter(Customer.created_at >= window.start, existing),
            sa.func.coalesce(sa.func.sum(churn_moves.c.n), 0),
            sa.func.coalesce(sa.func.sum(expiring_per_customer.c.n), 0),
        )
        query = sa.select(*measures, *keys).select_from(customers).where(*scope).group_by(*keys)
        for row in await session.execute(query):
            key = row[7] if keys else None
            # A group is listed under a KPI only if some of its customers count there.
            counted = (row[0], row[0], row[2], row[3], row[4], row[5], row[6])
            for measured, value, rows in zip(totals, row[:7], counted, strict=True):
                add_to(measured, key if rows else None, value)
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
