"""Model drift (R4.3: the model kept current): the population stability index of the promoted
model's current scores against the scores it had on its validation rows. The churn KPIs report
it on demand; the `measure-drift` job exports it as a gauge (crm_churn_model_drift_psi) that an
alert in deploy/ watches, so a model whose population has moved away is retrained or rolled
back without anyone having to look."""

from collections.abc import Awaitable, Callable

import numpy as np
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.churn.features.models import CustomerFeatures
from services.churn.model import metrics
from services.churn.model.registry import ChurnModel
from services.churn.risk.online import OnlineScorer
from services.kit.observability import CHURN_MODEL_DRIFT

F = CustomerFeatures


def scored_now(model: ChurnModel) -> sa.ColumnElement[bool]:
    """Customers not churned whose stored score is the model's."""
    return sa.and_(F.churned_at.is_(None), F.model == model.name, F.probability.is_not(None))


def score_bin(model: ChurnModel) -> sa.ColumnElement[int]:
    """The reference bin of a customer's stored score (bin i: edges[i-1] <= score < edges[i], as
    `metrics.psi`), so the database counts the current scores per bin."""
    edges = model.meta["reference_scores"]["edges"]
    return sa.case(*((F.probability < edge, i) for i, edge in enumerate(edges)), else_=len(edges))


def bins_of(model: ChurnModel) -> np.ndarray:
    return np.zeros(len(model.meta["reference_scores"]["edges"]) + 1, dtype=np.int64)


def psi(model: ChurnModel, bins: np.ndarray) -> float | None:
    return metrics.psi_of_counts(model.meta["reference_scores"], bins)


async def drift(session: AsyncSession, model: ChurnModel) -> float | None:
    """The PSI of the model's current scores over every customer (None: nobody scored by it)."""
    which = score_bin(model)
    bins = bins_of(model)
    for i, n in await session.execute(sa.select(which, sa.func.count()).where(scored_now(model)).group_by(which)):
        bins[i] += n
    return psi(model, bins)


def measure_drift_job(scorer: OnlineScorer) -> Callable[[async_sessionmaker[AsyncSession]], Awaitable[int]]:
    """Sets the gauge for the promoted model (and drops the series of any other: only the
    promoted model's drift is alerted on); nothing for the rules."""

    async def run(sessions: async_sessionmaker[AsyncSession]) -> int:
        model = scorer.model()
        value = None
        if model is not None:
            async with sessions() as session:
                value = await drift(session, model)
        # Replaced only once measured: a failed measurement leaves the last one (and its alert).
        CHURN_MODEL_DRIFT.clear()
        if model is not None and value is not None:
            CHURN_MODEL_DRIFT.labels(model.name).set(value)
        return 0  # a measurement, not a queue: the job waits its interval

    return run
