"""Loads the facts the rules judge (customer, products, holdings) from this service's tables."""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import cast

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.kit.clock import now
from services.kit.problems import NotFound
from services.recommendation.holdings.models import Holding
from services.recommendation.models import Customer
from services.recommendation.products.models import Product
from services.recommendation.questionnaire.models import RiskAssessment
from services.recommendation.rules import CustomerFacts, HoldingFacts, ProductFacts, level

CHUNK = 5000


def product_facts(product: Product) -> ProductFacts:
    return ProductFacts(
        code=product.code,
        risk_level=level(product.risk_level),
        product_type=product.product_type,
        horizon_years=product.horizon_years,
        liquidity_days=product.liquidity_days,
        min_amount=product.min_amount,
        complexity=product.complexity,
        on_sale=product.status == "on_sale",
    )


@dataclass(frozen=True)
class Known:
    """A customer's facts with where they came from (for proof)."""

    facts: CustomerFacts
    customer: Customer | None  # or its row
    assessment: RiskAssessment | None  # the valid one (or its row), or None


def _facts(customer_id: str, customer: Customer | None, assessment: RiskAssessment | None) -> CustomerFacts:
    return CustomerFacts(
        customer_id=customer_id,
        risk_level=level(assessment.risk_level) if assessment else None,
        lowest_category=assessment.lowest_category if assessment else False,
        vulnerable=assessment.vulnerable if assessment else False,
        age_band=customer.age_band if customer else None,
        assets=customer.assets_under_management if customer else Decimal(0),
        horizon_years=assessment.horizon_years if assessment else None,
        liquidity_days=assessment.liquidity_days if assessment else None,
        goals=tuple(g for g in assessment.goals.split(",") if g) if assessment else (),
    )


def _valid(assessment: RiskAssessment | None) -> RiskAssessment | None:
    """An expired assessment (or one whose re-assessment is overdue) counts as none."""
    return assessment if assessment is not None and assessment.valid_until > now() else None


async def current_assessment(session: AsyncSession, customer_id: str) -> RiskAssessment | None:
    return await session.scalar(
        sa.select(RiskAssessment).where(
            RiskAssessment.customer_id == customer_id, RiskAssessment.superseded_at.is_(None)
        )
    )


async def customer(session: AsyncSession, customer_id: str, *, known_only: bool = False) -> Known:
    """`known_only`: a customer the profile events have not yet brought is a 404, not a customer with no assets."""
    record = await session.get(Customer, customer_id)
    if record is None and known_only:
        raise NotFound(
            "This customer is not known to the recommendation service (yet): "
            "it learns customers from customer events, which may still be on their way."
        )
    assessment = _valid(await current_assessment(session, customer_id))
    return Known(_facts(customer_id, record, assessment), record, assessment)


async def customers(session: AsyncSession, customer_ids: Iterable[str]) -> dict[str, Known]:
    ids = list(dict.fromkeys(customer_ids))
    records: dict[str, Customer] = {}
    assessments: dict[str, RiskAssessment] = {}
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        # Plain rows, not ORM instances: thousands of holders are re-matched at once.
        customers_t, assessments_t = Customer.__table__, RiskAssessment.__table__
        records.update(
            (c.customer_id, cast(Customer, c))  # a row with the model's attributes (see Known)
            for c in await session.execute(sa.select(customers_t).where(customers_t.c.customer_id.in_(chunk)))
        )
        assessments.update(
            (a.customer_id, cast(RiskAssessment, a))  # likewise
            for a in await session.execute(
                sa.select(assessments_t).where(
                    assessments_t.c.customer_id.in_(chunk), assessments_t.c.superseded_at.is_(None)
                )
            )
        )
    out = {}
    for customer_id in ids:
        assessment = _valid(assessments.get(customer_id))
        out[customer_id] = Known(
            _facts(customer_id, records.get(customer_id), assessment), records.get(customer_id), assessment
        )
    return out


async def holdings(session: AsyncSession, customer_ids: Iterable[str]) -> dict[str, tuple[HoldingFacts, ...]]:
    """Open holdings with their products' current risk levels, per customer."""
    ids = list(dict.fromkeys(customer_ids))
    grouped: dict[str, list[HoldingFacts]] = defaultdict(list)
    for start in range(0, len(ids), CHUNK):
        rows = await session.execute(
            sa.select(Holding.customer_id, Holding.product_code, Holding.amount, Product.risk_level)
            .join(Product, Product.code == Holding.product_code)
            .where(Holding.customer_id.in_(ids[start : start + CHUNK]), Holding.closed_at.is_(None))
            .order_by(Holding.customer_id, Holding.holding_id)
        )
        for row in rows:
            grouped[row.customer_id].append(HoldingFacts(row.product_code, level(row.risk_level), row.amount))
    return {customer_id: tuple(grouped.get(customer_id, ())) for customer_id in ids}
