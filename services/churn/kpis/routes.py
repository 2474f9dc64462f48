"""Churn KPIs: churn rate, customers by band, retention treated vs control by band, lifetime
value, model drift.

    churn_rate              customers who churned in the window / customers known at its start
    customers_by_band       customers not churned, by their current band
    retention_treated       share of treated band episodes (interventions in the window) whose
    retention_control       customer has not churned since; control: the hold-out group
    retention_uplift        treated minus control
    lifetime_value          mean estimated customer lifetime value (currency): yearly margin
                            (`ltv_margin_rate` x assets) kept each year with probability
                            1 - churn probability, discounted, over `ltv_horizon_years`
                            (stored per customer, features/value.py)
    model_drift_psi         population stability index of current scores of the promoted model
                            against its validation scores (null without a promoted model)
"""

from collections import defaultdict
from typing import Any

import numpy as np
import sqlalchemy as sa
from fastapi import APIRouter, Request

from events.contracts.terms import ChurnBand
from services.churn.features.models import CustomerFeatures
from services.churn.model import drift
from services.churn.playbooks.models import Intervention
from services.churn.settings import ChurnSettings
from services.kit.db import SessionDep
from services.kit.identity import ActorDep
from services.kit.kpi import Kpi, KpiGroup, KpiReport, KpiWindow, kpi_query
from services.kit.problems import PROBLEM_RESPONSES

router = APIRouter(prefix="/api/v1/kpis", tags=["kpis"], responses=PROBLEM_RESPONSES)


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


@router.get("/churn", response_model=KpiReport)
async def churn_kpis(
    request: Request, session: SessionDep, actor: ActorDep, window: KpiWindow = kpi_query("band")
) -> KpiReport:
    settings: ChurnSettings = request.app.state.settings
    F = CustomerFeatures
    # A relationship manager's figures cover their own customers only.
    mine = [F.manager_id == actor.id] if actor.role in settings.assigned_only_roles else []
    known_at_start = sa.and_(
        sa.or_(F.first_seen_at.is_(None), F.first_seen_at < window.end),
        sa.or_(F.churned_at.is_(None), F.churned_at >= window.start),
    )
    churned_in_window = sa.and_(F.churned_at >= window.start, F.churned_at < window.end)
    # The drift: current scores of the promoted model per reference bin (model/drift.py),
    # counted in the same pass.
    model = request.app.state.churn_scorer.model()
    scored = drift.scored_now(model) if model is not None else sa.false()
    score_bin = drift.score_bin(model) if model is not None else None
    bins = drift.bins_of(model) if model is not None else np.zeros(1, dtype=np.int64)
    # One pass over the customers: known at the window's start, churned in it, and, of those not
    # churned, the count by band and the sum of their stored lifetime values.
    valued = sa.and_(F.assets_under_management.is_not(None), F.probability.is_not(None), F.churned_at.is_(None))
    by_band: defaultdict[str, int] = defaultdict(int)
    known, churned, value_sum, valued_count = 0, 0, 0.0, 0
    groups: list[Any] = [F.level, *([score_bin] if score_bin is not None else [])]
    for n_known, n_churned, n, total, count, n_scored, level, *which in await session.execute(
        sa.select(
            sa.func.count().filter(known_at_start),
            sa.func.count().filter(churned_in_window),
            sa.func.count().filter(F.churned_at.is_(None)),
            sa.func.sum(F.lifetime_value).filter(valued),
            sa.func.count().filter(valued),
            sa.func.count().filter(scored),
            *groups,
        )
        .where(*mine)
        .group_by(*groups)
    ):
        known += n_known
        churned += n_churned
        if n:
            by_band[level] += n
        value_sum += float(total or 0)
        valued_count += count
        bins[which[0] if which else 0] += n_scored
    current = sum(by_band.values())

    retained: dict[str, defaultdict[str, list[int]]] = {g: defaultdict(lambda: [0, 0]) for g in ("treated", "control")}
    # Kept: the intervention's customer has not churned (one hashed look-up in the churned
    # customers, not a join of every customer's features).
    kept = Intervention.customer_id.not_in(sa.select(F.customer_id).where(F.churned_at.is_not(None)))
    portfolio = [Intervention.customer_id.in_(sa.select(F.customer_id).where(*mine))] if mine else []
    for band, group, kept_n, total in await session.execute(
        sa.select(Intervention.band, Intervention.group, sa.func.count().filter(kept), sa.func.count())
        .where(*portfolio, Intervention.created_at >= window.start, Intervention.created_at < window.end)
        .group_by(Intervention.band, Intervention.group)
    ):
        retained[group][band][0] += kept_n
        retained[group][band][1] += total

    def retention(group: str) -> Kpi:
        kept = sum(t[0] for t in retained[group].values())
        total = sum(t[1] for t in retained[group].values())
        breakdown = (
            [KpiGroup(key=b.value, value=_ratio(*retained[group][b]), count=retained[group][b][1]) for b in ChurnBand]
            if window.by == "band"
            else []
        )
        return Kpi(name=f"retention_{group}", value=_ratio(kept, total), unit="ratio", count=total, breakdown=breakdown)

    treated, control = retention("treated"), retention("control")
    uplift = (treated.value - control.value) if treated.value is not None and control.value is not None else None

    model_drift = drift.psi(model, bins) if model is not None else None

    return KpiReport.of(
        "churn",
        window,
        [
            Kpi(name="churn_rate", value=_ratio(churned, known), unit="ratio", count=known or 0),
            Kpi(
                name="customers_by_band",
                value=float(current),
                unit="count",
                count=current,
                breakdown=[KpiGroup(key=b.value, value=float(by_band[b]), count=by_band[b]) for b in ChurnBand],
            ),
            treated,
            control,
            Kpi(name="retention_uplift", value=uplift, unit="ratio", count=treated.count + control.count),
            Kpi(
                name="lifetime_value",
                value=value_sum / valued_count if valued_count else None,
                unit="currency",
                count=valued_count,
            ),
            Kpi(name="model_drift_psi", value=model_drift, unit="index", count=int(bins.sum())),
        ],
    )
