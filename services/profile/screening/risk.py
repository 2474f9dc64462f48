"""Each customer's money-laundering risk rating (low / medium / high) from configured factors:
PEP status (a confirmed PEP match), countries (nationality, residence), products held, the
onboarding channel, occupation and cash intensity. High means enhanced due diligence; each
rating sets the date of the next periodic review, which is a task (`aml_reviews`)."""

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from events.contracts import AmlRiskChangedV1
from events.contracts.terms import Tier
from services.kit.clock import now
from services.profile.models import Customer, outbox
from services.profile.screening.models import AmlRating, AmlReview, ScreeningAlert
from services.profile.settings import ProfileSettings

# Changes to these customer fields can change the rating.
RATED_FIELDS = frozenset(
    {
        "nationality",
        "residence_country",
        "occupation",
        "onboarding_channel",
        "cash_intensity",
        "product_holdings",
        "assets_under_management",
    }
)


@dataclass(frozen=True)
class Rating:
    rating: str
    score: int
    factors: tuple[str, ...]
    enhanced_due_diligence: bool


def rate(customer: Customer, *, pep: bool, settings: ProfileSettings) -> Rating:
    """The rating the configured factors give (pure)."""
    factors = []
    countries = {c for c in (customer.nationality, customer.residence_country) if c}
    if pep:
        factors.append("pep")
    if countries & set(settings.aml_high_risk_countries):
        factors.append("high_risk_country")
    elif countries & set(settings.aml_monitored_countries):
        factors.append("monitored_country")
    if customer.occupation and customer.occupation in settings.aml_high_risk_occupations:
        factors.append("high_risk_occupation")
    if customer.onboarding_channel in settings.aml_remote_channels:
        factors.append("remote_onboarding")
    if customer.cash_intensity in ("medium", "high"):
        factors.append(f"cash_intensity_{customer.cash_intensity}")
    if customer.tier == Tier.HIGH_NET_WORTH:
        factors.append("private_banking")
    if (customer.product_holdings or 0) >= settings.aml_many_products:
        factors.append("many_products")
    score = sum(settings.aml_factor_points.get(f, 0) for f in factors)
    level = (
        "high" if pep or score >= settings.aml_high_from else "medium" if score >= settings.aml_medium_from else "low"
    )
    return Rating(level, score, tuple(factors), level == "high")


def _months_later(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, 28))


async def is_pep(session: AsyncSession, customer_id: str) -> bool:
    return bool(
        await session.scalar(
            sa.select(ScreeningAlert.id)
            .where(
                ScreeningAlert.customer_id == customer_id,
                ScreeningAlert.status == "true_match",
                ScreeningAlert.reason_code == "pep_screening_hit",
            )
            .limit(1)
        )
    )


async def rerate(
    session: AsyncSession, customer: Customer, settings: ProfileSettings, *, reviewed: bool = False
) -> AmlRating:
    """Rate the customer again; on a change (or a completed review) set the next review date,
    keep one open review task, and announce the change."""
    result = rate(customer, pep=await is_pep(session, customer.id), settings=settings)
    current = await session.get(AmlRating, customer.id, with_for_update=True)
    previous = current.rating if current else None
    changed = current is None or (current.rating, current.factors) != (result.rating, list(result.factors))
    if current is not None and not changed and not reviewed:
        return current
    moment = now()
    review_due = _months_later(moment.date(), settings.aml_review_months[result.rating])
    if current is None:
        current = AmlRating(customer_id=customer.id)
        session.add(current)
    current.rating, current.score, current.factors = result.rating, result.score, list(result.factors)
    current.enhanced_due_diligence, current.rated_at = result.enhanced_due_diligence, moment
    if previous != result.rating or reviewed or current.review_due is None:
        current.review_due = review_due
        await session.execute(
            sa.update(AmlReview)
            .where(AmlReview.customer_id == customer.id, AmlReview.status == "open")
            .values(status="replaced")
        )
        session.add(
            AmlReview(
                customer_id=customer.id, rating=result.rating, due_on=review_due, status="open", created_at=moment
            )
        )
    if changed:
        await outbox.emit(
            session,
            "aml_risk.changed",
            AmlRiskChangedV1(
                customer_id=customer.id,
                previous_rating=previous,
                rating=result.rating,
                factors=list(result.factors),
                enhanced_due_diligence=result.enhanced_due_diligence,
                review_due=current.review_due,
            ),
        )
    await session.flush()
    return current
