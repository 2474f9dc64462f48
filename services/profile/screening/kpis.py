"""Compliance KPIs (R6.2): money-laundering risk and screening per portfolio. For compliance
officers and admins only: alerts and ratings are compliance's working material, not a sales
figure. Per portfolio with `by=manager` (or by tier).

Now, over the customers not erased (no open work is left on an erased customer): the share of
rated customers rated high, customers under enhanced due diligence, alerts awaiting a decision
(open, or decided by one officer of two), periodic reviews past due. In the window, erased
customers included (an erasure leaves past figures as they were): alerts raised, with their
series."""

from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter

from services.kit.clock import now
from services.kit.db import SessionDep
from services.kit.kpi import KpiReport, KpiWindow, add_to, count_in_window, kpi_query, ratio, ratio_kpi, totals_kpi
from services.kit.problems import PROBLEM_RESPONSES
from services.profile.models import Customer
from services.profile.screening.models import AmlRating, AmlReview, ScreeningAlert

router = APIRouter(prefix="/api/v1/kpis", tags=["kpis"], responses=PROBLEM_RESPONSES)

BREAKDOWNS = {"manager": Customer.relationship_manager_id, "tier": Customer.tier}
UNDECIDED = ("open", "confirming")


@router.get("/compliance", response_model=KpiReport, summary="Compliance KPIs: AML risk, due diligence, screening")
async def compliance_kpis(session: SessionDep, window: KpiWindow = kpi_query(*BREAKDOWNS)) -> KpiReport:
    # The caller's role is checked by every service route's guard (services/kit/app.py).
    group = BREAKDOWNS[window.by] if window.by else None
    keys = [group] if group is not None else []
    living = Customer.erased_at.is_(None)

    async def per_group(table, *measures, where=()) -> list[tuple[Any, ...]]:
        """Each group's `measures` over the customers' rows of `table`."""
        query = (
            sa.select(*keys, *measures)
            .select_from(sa.join(Customer, table, Customer.id == table.c.customer_id))
            .where(living, *where)
            .group_by(*keys)
        )
        return [(row[0] if keys else None, *row[len(keys) :]) for row in await session.execute(query)]

    rated: dict[Any, int] = {None: 0}
    high: dict[Any, int] = {None: 0}
    diligence: dict[Any, int] = {None: 0}
    undecided: dict[Any, int] = {None: 0}
    overdue: dict[Any, int] = {None: 0}
    async with session.begin():
        ratings = AmlRating.__table__.c
        for key, n, n_high, n_diligence in await per_group(
            AmlRating.__table__,
            sa.func.count(),
            sa.func.count().filter(ratings.rating == "high"),
            sa.func.count().filter(ratings.enhanced_due_diligence),
        ):
            add_to(rated, key, n)
            add_to(high, key, n_high)
            add_to(diligence, key, n_diligence)
        alerts = ScreeningAlert.__table__.c
        for key, n in await per_group(ScreeningAlert.__table__, sa.func.count(), where=[alerts.status.in_(UNDECIDED)]):
            add_to(undecided, key, n)
        reviews = AmlReview.__table__.c
        today = now().date()
        for key, n in await per_group(
            AmlReview.__table__, sa.func.count(), where=[reviews.status == "open", reviews.due_on < today]
        ):
            add_to(overdue, key, n)
        raised, raised_series = await count_in_window(
            session,
            ScreeningAlert.created_at,
            window,
            group=group,
            from_=sa.join(Customer, ScreeningAlert, Customer.id == ScreeningAlert.customer_id),
        )

    share = {key: ratio(high.get(key, 0), n) for key, n in rated.items()}
    return KpiReport.of(
        "compliance",
        window,
        [
            ratio_kpi("high_aml_risk_share", share, rated),
            totals_kpi("enhanced_due_diligence", "count", diligence),
            totals_kpi(
                "screening_alerts_raised", "count", raised, series=raised_series, drill="/api/v1/screening/alerts"
            ),
            totals_kpi("screening_alerts_undecided", "count", undecided, drill="/api/v1/screening/alerts"),
            totals_kpi("aml_reviews_overdue", "count", overdue, drill="/api/v1/aml-reviews"),
        ],
    )
