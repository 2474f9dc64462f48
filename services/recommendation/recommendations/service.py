"""Recommendation lists: the hard rules first, then ranking; each list stored with its proof."""

import uuid

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from events.contracts import RecommendationMadeV1
from services.kit.clock import now
from services.kit.identity import Actor
from services.recommendation import facts, ranking
from services.recommendation.base import audit, outbox
from services.recommendation.holdings.service import similar_shares
from services.recommendation.models import MarketingConsent
from services.recommendation.products import service as products
from services.recommendation.products.schemas import ProductOut
from services.recommendation.proof import codec
from services.recommendation.proof.models import RecommendationItem, RecommendationList
from services.recommendation.rules import RULESET_VERSION
from services.recommendation.settings import RecommendationSettings

NO_CONSENT = "The customer has no active marketing consent; nothing is recommended proactively."


async def has_marketing_consent(session: AsyncSession, customer_id: str) -> bool:
    consent = await session.scalar(
        sa.select(MarketingConsent.consent_id)
        .where(
            MarketingConsent.customer_id == customer_id,
            MarketingConsent.active,
            sa.or_(MarketingConsent.expires_at.is_(None), MarketingConsent.expires_at > now()),
        )
        .limit(1)
    )
    return consent is not None


async def recommend(
    session: AsyncSession,
    settings: RecommendationSettings,
    customer_id: str,
    mode: str,
    actor: Actor,
    limit: int,
) -> tuple[RecommendationList | None, dict[str, ProductOut], facts.Known]:
    known = await facts.customer(session, customer_id, known_only=True)
    if mode == "proactive" and not await has_marketing_consent(session, customer_id):
        return None, {}, known
    version, catalogue = await products.on_sale(session)
    holdings = (await facts.holdings(session, [customer_id]))[customer_id]
    f = known.facts
    similar = await similar_shares(session, ranking.segment(f.risk_level, f.age_band, f.assets))
    limits = settings.limits()
    picks, exclusions = ranking.rank(
        f, [entry.facts for entry in catalogue.values()], holdings, similar, limits, limit=limit
    )
    moment = now()
    stored = RecommendationList(
        id=str(uuid.uuid4()),
        customer_id=customer_id,
        mode=mode,
        ruleset_version=RULESET_VERSION,
        questionnaire_version=known.assessment.questionnaire_version if known.assessment else None,
        assessment_id=known.assessment.id if known.assessment else None,
        catalogue_version=version,
        customer_as_of=known.customer.last_event_time if known.customer else None,
        inputs={
            "customer": codec.dump(f),
            "holdings": [codec.dump(h) for h in holdings],
            "similar": {code: share for code, share in similar.items() if code in catalogue},
            "limits": codec.dump_limits(limits),
            "limit": limit,
        },
        picks=[p.as_dict() for p in picks],
        exclusions=[e.as_dict() for e in exclusions],
        made_by=actor.id,
        made_by_role=actor.role,
        made_at=moment,
    )
    session.add(stored)
    await session.flush()
    # The new list supersedes the customer's earlier ones: only its picks stay open.
    await session.execute(
        sa.update(RecommendationItem)
        .where(RecommendationItem.customer_id == customer_id, RecommendationItem.open)
        .values(open=False)
    )
    if picks:
        await session.execute(
            sa.insert(RecommendationItem),
            [
                {
                    "recommendation_id": stored.id,
                    "product_code": p.product_code,
                    "customer_id": customer_id,
                    "rank": p.rank,
                    "open": True,
                }
                for p in picks
            ],
        )
    await outbox.emit(
        session,
        "recommendation.made",
        RecommendationMadeV1(
            recommendation_id=stored.id,
            customer_id=customer_id,
            mode=mode,
            product_codes=[p.product_code for p in picks],
            ruleset_version=RULESET_VERSION,
            questionnaire_version=stored.questionnaire_version,
        ),
    )
    await audit.record(
        session,
        actor=actor.id,
        role=actor.role,
        action=f"recommendations.{mode}",
        customer_id=customer_id,
        fields=["risk_assessment", "holdings"],
        reason=actor.reason,
    )
    return stored, {code: entry.out for code, entry in catalogue.items()}, known
