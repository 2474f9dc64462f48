from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Query

from services.kit.clock import now
from services.kit.db import SessionDep
from services.kit.problems import PROBLEM_RESPONSES, NotFound
from services.recommendation.models import Customer, MarketingConsent, Product
from services.kit.params import CustomerId
from services.recommendation.schemas import (
    ProductList,
    ProductRiskLevel,
    Recommendation,
    RecommendationsOut,
)

router = APIRouter(prefix="/api/v1", responses=PROBLEM_RESPONSES)


@router.get("/products", response_model=ProductList, tags=["products"])
async def list_products(
    session: SessionDep,
    risk_level: Annotated[ProductRiskLevel | None, Query(description="Only products of this risk level.")] = None,
) -> ProductList:
    query = sa.select(Product).where(Product.active).order_by(Product.risk_level, Product.code)
    if risk_level is not None:
        query = query.where(Product.risk_level == risk_level)
    return ProductList(items=(await session.scalars(query)).all())


def suitable_risk_levels(customer_risk_level: str) -> list[str]:
    """Rn is suitable for a Cm customer iff n <= m (R3.2: never above the customer's level)."""
    return [f"R{n}" for n in range(1, int(customer_risk_level[1]) + 1)]


@router.get("/customers/{customer_id}/recommendations", response_model=RecommendationsOut, tags=["recommendations"])
async def recommend(customer_id: CustomerId, session: SessionDep) -> RecommendationsOut:
    """Active products suitable for the customer's risk level, the highest suitable risk first."""
    customer = await session.get(Customer, customer_id)
    if customer is None:
        raise NotFound(
            "This customer is not known to the recommendation service (yet): "
            "it learns customers from customer events, which may still be on their way."
        )
    if not await _has_marketing_consent(session, customer_id):
        return RecommendationsOut(
            customer_id=customer.customer_id, risk_level=customer.risk_level, as_of=customer.last_event_time,
            items=[], withheld="The customer has no active marketing consent; nothing is recommended.",
        )
    products = await session.scalars(
        sa.select(Product)
        .where(Product.active, Product.risk_level.in_(suitable_risk_levels(customer.risk_level)))
        .order_by(Product.risk_level.desc(), Product.name)
    )
    items = [
        Recommendation(
            rank=rank,
            product=product,
            reason=f"risk {product.risk_level} within your assessed level {customer.risk_level}; "
            "ranked by risk, highest suitable first",
        )
        for rank, product in enumerate(products, start=1)
    ]
    return RecommendationsOut(
        customer_id=customer.customer_id, risk_level=customer.risk_level, as_of=customer.last_event_time, items=items
    )


async def _has_marketing_consent(session, customer_id: str) -> bool:
    consent = await session.scalar(
        sa.select(MarketingConsent.consent_id).where(
            MarketingConsent.customer_id == customer_id,
            MarketingConsent.active,
            sa.or_(MarketingConsent.expires_at.is_(None), MarketingConsent.expires_at > now()),
        ).limit(1)
    )
    return consent is not None
