"""Customer KPIs over the profile's own data: the book by tier and stage, new and churned
customers, assets, and portfolio risk indicators per relationship manager (R5.2, R6.2, R7.2)."""

from datetime import timedelta

import sqlalchemy as sa
from fastapi import APIRouter, Request

from services.kit.db import SessionDep
from services.kit.identity import ActorDep
from services.kit.kpi import Kpi, KpiGroup, KpiPoint, KpiReport, KpiWindow, as_date, bucket_start, kpi_query, ratio
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
HIGH_RISK_LEVELS = ("C4", "C5")


@router.get("/customers", response_model=KpiReport, summary="Customer KPIs: book, new, churned, assets, risk")
async def customer_kpis(
    session: SessionDep, actor: ActorDep, request: Request, window: KpiWindow = kpi_query(*BREAKDOWNS)
) -> KpiReport:
    scope: list[sa.ColumnElement[bool]] = [Customer.erased_at.is_(None)]
    if actor.role in request.app.state.settings.assigned_only_roles:
        scope.append(Customer.relationship_manager_id == actor.id)  # a manager's own portfolio only
    dialect = session.get_bind().dialect.name
    notice_days = request.app.state.settings.document_expiry_notice_days
    group = BREAKDOWNS[window.by] if window.by else None
    existing = [*scope, Customer.created_at < window.end]
    created = [*scope, Customer.created_at >= window.start, Customer.created_at < window.end]
    churned_in_window = (
        sa.select(StageChange.customer_id, StageChange.at)
        .where(StageChange.to_stage == "churned", StageChange.at >= window.start, StageChange.at < window.end)
        .subquery()
    )

    async with session.begin():
        book = await _count(session, sa.func.count(), existing, group)
        assets = await _count(
            session, sa.func.coalesce(sa.func.sum(Customer.assets_under_management), 0), existing, group
        )
        high_risk = await _count(
            session, sa.func.count(), [*existing, Customer.risk_level.in_(HIGH_RISK_LEVELS)], group
        )
        new = await _count(session, sa.func.count(), created, group)
        new_series = await _series(session, Customer.created_at, created, window, dialect)
        churn_from = sa.join(Customer, churned_in_window, Customer.id == churned_in_window.c.customer_id)
        churned = await _count(session, sa.func.count(), scope, group, from_=churn_from)
        churn_series = await _series(session, churned_in_window.c.at, scope, window, dialect, from_=churn_from)
        at_start = await _count(session, sa.func.count(), [*scope, Customer.created_at < window.start], group)
        expiring_docs = await _count(
            session,
            sa.func.count(),
            [*scope, Document.expires_on <= as_date(window.end + timedelta(days=notice_days))],
            group,
            from_=sa.join(Customer, Document, Customer.id == Document.customer_id),
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


async def _count(session, measure, where, group, *, from_=None) -> dict:
    """{None: total, group value: subtotal, ...}."""
    base = sa.select(measure).where(*where)
    if from_ is not None:
        base = base.select_from(from_)
    totals = {None: (await session.execute(base)).scalar_one()}
    if group is not None:
        grouped = base.add_columns(group).group_by(group)
        for value, key in (await session.execute(grouped)).all():
            totals[key] = value
    return totals


async def _series(session, column, where, window: KpiWindow, dialect: str, *, from_=None) -> list[KpiPoint]:
    bucket = bucket_start(column, window.bucket, dialect).label("bucket")
    query = sa.select(bucket, sa.func.count()).where(*where, column >= window.start, column < window.end)
    if from_ is not None:
        query = query.select_from(from_)
    rows = (await session.execute(query.group_by(bucket).order_by(bucket))).all()
    return [KpiPoint(bucket=as_date(day), value=float(n), count=int(n)) for day, n in rows]
