"""Each customer's estimated lifetime value, stored beside the churn probability it is computed
from (customer_features.lifetime_value), so the KPI route sums a column: yearly margin
(`ltv_margin_rate` x assets) kept each year with probability 1 - churn probability, discounted,
over `ltv_horizon_years`.

The settings the stored values were computed with are kept too (lifetime_value_basis); when the
service runs with other settings, its `revalue-customers` job computes every customer's value
again, in one statement."""

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from services.churn.base import Base
from services.churn.features.models import CustomerFeatures
from services.churn.settings import ChurnSettings


class ValueBasis(Base):
    """The settings every stored lifetime value was computed with (one row)."""

    __tablename__ = "lifetime_value_basis"

    id: Mapped[int] = mapped_column(sa.Integer(), primary_key=True)
    margin_rate: Mapped[float] = mapped_column(sa.Float())
    discount_rate: Mapped[float] = mapped_column(sa.Float())
    horizon_years: Mapped[int] = mapped_column(sa.Integer())


def lifetime_value(assets: float, probability: float, settings: ChurnSettings) -> float:
    margin = settings.ltv_margin_rate * assets
    stay = 1.0 - min(max(probability, 0.0), 1.0)
    discount = 1.0 + settings.ltv_discount_rate
    return sum(margin * stay**year / discount**year for year in range(1, settings.ltv_horizon_years + 1))


def lifetime_value_sql(assets, probability, settings: ChurnSettings) -> sa.ColumnElement:
    """`lifetime_value` as SQL (PostgreSQL and SQLite), to value every customer at once: the same
    yearly terms, margin x (r + r^2 + ... + r^H) with r = stay / discount, in Horner form."""
    clamped = sa.case((probability < 0.0, 0.0), (probability > 1.0, 1.0), else_=probability)
    kept = (1.0 - clamped) / (1.0 + settings.ltv_discount_rate)
    years: sa.ColumnElement[Any] = sa.literal(0.0)
    for _ in range(settings.ltv_horizon_years):
        years = kept * (1.0 + years)
    return settings.ltv_margin_rate * sa.cast(assets, sa.Float) * years


def set_value(row: CustomerFeatures, settings: ChurnSettings) -> None:
    """After the row's assets or probability changed (None until both are known)."""
    assets, probability = row.assets_under_management, row.probability
    row.lifetime_value = (
        None if assets is None or probability is None else lifetime_value(float(assets), probability, settings)
    )


def _basis(settings: ChurnSettings) -> dict:
    return {
        "margin_rate": settings.ltv_margin_rate,
        "discount_rate": settings.ltv_discount_rate,
        "horizon_years": settings.ltv_horizon_years,
    }


def revalue_statements(settings: ChurnSettings, dialect: str) -> list[sa.Executable]:
    """Value every customer with `settings` and record them as the basis (for a migration too)."""
    F = CustomerFeatures
    known = sa.and_(F.assets_under_management.is_not(None), F.probability.is_not(None))
    value = lifetime_value_sql(F.assets_under_management, F.probability, settings)
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(ValueBasis).values(
        id=1, **_basis(settings)
    )
    return [
        sa.update(F).values(lifetime_value=sa.case((known, value), else_=None)),
        insert.on_conflict_do_update(index_elements=["id"], set_=_basis(settings)),
    ]


async def revalue(session: AsyncSession, settings: ChurnSettings) -> bool:
    """Value every customer again if the stored values were computed with other settings (or never);
    True if it did."""
    stored = await session.get(ValueBasis, 1, with_for_update=True)
    if stored is not None and {k: getattr(stored, k) for k in _basis(settings)} == _basis(settings):
        return False
    for statement in revalue_statements(settings, session.get_bind().dialect.name):
        await session.execute(statement)
    return True


def revalue_job(settings: ChurnSettings):
    """The `revalue-customers` job: a look at the basis, and every customer valued again when it
    differs from the running settings (a job, not a start-up step: the service starts, not ready,
    before its database is migrated)."""

    async def run(sessions: async_sessionmaker[AsyncSession]) -> int:
        async with sessions() as session, session.begin():
            return int(await revalue(session, settings))

    return run
