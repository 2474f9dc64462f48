"""Replays a stored decision or recommendation list from its stored inputs, by the same rules."""

from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.recommendation import ranking
from services.recommendation.products.models import ProductVersion
from services.recommendation.proof import codec
from services.recommendation.proof.models import RecommendationList, SuitabilityCheck
from services.recommendation.rules import Proposal, evaluate


def replay_check(check: SuitabilityCheck) -> dict:
    inputs = check.inputs
    verdict = evaluate(
        Proposal(
            customer=codec.load_customer(inputs["customer"]),
            product=codec.load_product(inputs["product"]),
            amount=Decimal(inputs["amount"]),
            holdings=codec.load_holdings(inputs["holdings"]),
            purpose="sale",
            override_acknowledged=inputs["override_acknowledged"],
        ),
        codec.load_limits(inputs["limits"]),
    )
    return verdict.as_dict()


async def catalogue_as_of(session: AsyncSession, catalogue_version: int) -> list:
    """Every product as it stood at `catalogue_version` (its latest version at or before it)."""
    latest = (
        sa.select(ProductVersion.code, sa.func.max(ProductVersion.version).label("version"))
        .where(ProductVersion.catalogue_version <= catalogue_version)
        .group_by(ProductVersion.code)
        .subquery()
    )
    rows = await session.scalars(
        sa.select(ProductVersion.data)
        .join(latest, sa.and_(latest.c.code == ProductVersion.code, latest.c.version == ProductVersion.version))
        .order_by(ProductVersion.code)
    )
    return [codec.load_product(data) for data in rows]


async def replay_list(session: AsyncSession, stored: RecommendationList) -> tuple[list, list]:
    inputs = stored.inputs
    picks, exclusions = ranking.rank(
        codec.load_customer(inputs["customer"]),
        [p for p in await catalogue_as_of(session, stored.catalogue_version) if p.on_sale],
        codec.load_holdings(inputs["holdings"]),
        inputs["similar"],
        codec.load_limits(inputs["limits"]),
        limit=inputs["limit"],
    )
    return [p.as_dict() for p in picks], [e.as_dict() for e in exclusions]
