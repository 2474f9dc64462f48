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
    model_drift_psi         population stability index of current scores of the promoted model
                            against its validation scores (null without a promoted model)
"""

from collections import defaultdict

import numpy as np
import sqlalchemy as sa
from fastapi import APIRouter, Request

from services.churn.features.models import CustomerFeatures
from services.churn.model import metrics
from services.churn.playbooks.models import Intervention
from services.churn.settings import ChurnSettings
from services.kit.db import SessionDep
from services.kit.identity import ActorDep
from services.kit.kpi import Kpi, KpiGroup, KpiReport, KpiWindow, kpi_query
from services.kit.problems import PROBLEM_RESPONSES

router = APIRouter(prefix="/api/v1/kpis", tags=["kpis"], responses=PROBLEM_RESPONSES)
BANDS = ("low", "medium", "high")


def lifetime_value(assets: float, probability: float, settings: ChurnSettings) -> float:
    margin = settings.ltv_margin_rate * assets
    stay = 1.0 - min(max(probability, 0.0), 1.0)
    discount = 1.0 + settings.ltv_discount_rate
    return sum(margin * stay**year / discount**year for year in range(1, settings.ltv_horizon_years + 1))


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


@router.get("/churn", response_model=KpiReport)
async def churn_kpis(
    request: Request, session: SessionDep, actor: ActorDep, window: KpiWindow = kpi_query("band")
) -> KpiReport:
    settings: ChurnSettings = request.app.state.settings
    F = CustomerFeatures
    # A relationship manager's figures cover their own customers only.
    mine = [F.manager_id == actor.id] if actor.role == "relationship_manager" else []
    known = (
        await session.execute(
            sa.select(sa.func.count()).where(
                *mine,
                sa.or_(F.first_seen_at.is_(None), F.first_seen_at < window.end),
                sa.or_(F.churned_at.is_(None), F.churned_at >= window.start),
            )
        )
    ).scalar_one()
    churned = (
        await session.execute(
            sa.select(sa.func.count()).where(*mine, F.churned_at >= window.start, F.churned_at < window.end)
        )
    ).scalar_one()

    current = (
        await session.execute(
            sa.select(F.level, F.probability, F.assets_under_management, F.model).where(*mine, F.churned_at.is_(None))
        )
    ).all()
    by_band: defaultdict[str, int] = defaultdict(int)
    for level, *_ in current:
        by_band[level] += 1
    values = [
        lifetime_value(float(assets), probability, settings)
        for _, probability, assets, _ in current
        if assets is not None and probability is not None
    ]

    episodes = (
        await session.execute(
            sa.select(Intervention.band, Intervention.group, F.churned_at)
            .join(F, F.customer_id == Intervention.customer_id, isouter=True)
            .where(*mine, Intervention.created_at >= window.start, Intervention.created_at < window.end)
        )
    ).all()
    retained: dict[str, defaultdict[str, list[int]]] = {g: defaultdict(lambda: [0, 0]) for g in ("treated", "control")}
    for band, group, churned_at in episodes:
        tally = retained[group][band]
        tally[0] += int(churned_at is None)
        tally[1] += 1

    def retention(group: str) -> Kpi:
        kept = sum(t[0] for t in retained[group].values())
        total = sum(t[1] for t in retained[group].values())
        breakdown = (
            [KpiGroup(key=b, value=_ratio(*retained[group][b]), count=retained[group][b][1]) for b in BANDS]
            if window.by == "band"
            else []
        )
        return Kpi(name=f"retention_{group}", value=_ratio(kept, total), unit="ratio", count=total, breakdown=breakdown)

    treated, control = retention("treated"), retention("control")
    uplift = (treated.value - control.value) if treated.value is not None and control.value is not None else None

    drift, scored = None, 0
    model = request.app.state.churn_scorer.model()
    if model is not None:
        scores = np.array([p for _, p, _, name in current if name == model.name and p is not None])
        scored = len(scores)
        drift = metrics.psi(model.meta["reference_scores"], scores)

    return KpiReport.of(
        "churn",
        window,
        [
            Kpi(name="churn_rate", value=_ratio(churned, known), unit="ratio", count=known or 0),
            Kpi(
                name="customers_by_band",
                value=float(len(current)),
                unit="count",
                count=len(current),
                breakdown=[KpiGroup(key=b, value=float(by_band[b]), count=by_band[b]) for b in BANDS],
            ),
            treated,
            control,
            Kpi(name="retention_uplift", value=uplift, unit="ratio", count=treated.count + control.count),
            Kpi(
                name="lifetime_value",
                value=float(np.mean(values)) if values else None,
                unit="currency",
                count=len(values),
            ),
            Kpi(name="model_drift_psi", value=drift, unit="index", count=scored),
        ],
    )
