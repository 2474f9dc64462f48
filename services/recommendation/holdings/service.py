"""Holdings from core banking's events and from sales through the platform; the shares of
similar customers holding each product, learned from them."""

from collections import Counter, defaultdict
from datetime import timedelta

import sqlalchemy as sa
import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from events.contracts import CoreBankingProductClosedV1, CoreBankingProductOpenedV1
from events.contracts.envelope import Envelope
from services.kit.clock import now
from services.kit.identity import Actor
from services.kit.jobs import PeriodicJob
from services.kit.problems import Conflict, NotFound
from services.recommendation.base import audit
from services.recommendation.holdings.models import Holding, SegmentPopularity
from services.recommendation.models import Customer
from services.recommendation.proof.models import SuitabilityCheck
from services.recommendation.questionnaire.models import RiskAssessment
from services.recommendation.ranking import segment
from services.recommendation.rules import level

log = structlog.get_logger(__name__)


async def on_product_opened(session: AsyncSession, envelope: Envelope, payload: CoreBankingProductOpenedV1) -> None:
    if await session.get(Holding, payload.holding_id) is not None:
        return  # the same contract announced twice
    session.add(
        Holding(
            holding_id=payload.holding_id,
            customer_id=payload.customer_id,
            product_code=payload.product_code,
            amount=payload.amount,
            source="corebanking",
            opened_at=payload.opened_at,
        )
    )


async def on_product_closed(session: AsyncSession, envelope: Envelope, payload: CoreBankingProductClosedV1) -> None:
    holding = await session.get(Holding, payload.holding_id)
    if holding is None:  # closed before we saw it open: remember it closed, so a late open cannot revive it
        session.add(
            Holding(
                holding_id=payload.holding_id,
                customer_id=payload.customer_id,
                product_code=payload.product_code,
                amount=0,
                source="corebanking",
                opened_at=payload.closed_at,
                closed_at=payload.closed_at,
            )
        )
    elif holding.closed_at is None:
        holding.closed_at = payload.closed_at


async def sell(session: AsyncSession, customer_id: str, check_id: str, actor: Actor) -> Holding:
    """Record a sale made through the platform after a check that did not block it."""
    check = await session.get(SuitabilityCheck, check_id, with_for_update=True)
    if check is None or check.customer_id != customer_id:
        raise NotFound("No suitability check of this customer has this id; check the sale first.")
    if check.result == "block":
        raise Conflict("This proposal was blocked by a hard rule; it cannot be sold.")
    if check.sold_at is not None:
        raise Conflict("This check was already used for a sale; check the next sale again.")
    if now() - check.decided_at > timedelta(days=1):
        raise Conflict("This check is more than a day old; check the sale again.")
    check.sold_at = now()
    holding = Holding(
        holding_id=f"sale-{check.id}",
        customer_id=customer_id,
        product_code=check.product_code,
        amount=check.amount,
        source="platform",
        check_id=check.id,
        opened_at=check.sold_at,
    )
    session.add(holding)
    await audit.record(
        session,
        actor=actor.id,
        role=actor.role,
        action="sale",
        customer_id=customer_id,
        fields=["holdings"],
        reason=actor.reason,
    )
    return holding


async def learn_popularity(session: AsyncSession) -> int:
    """Per segment of similar customers (risk level, age band, assets band), the share holding
    each product; replaces the previous shares in one transaction. Returns the segments learned
    (0 when another replica is learning at this moment: one learner at a time)."""
    if session.get_bind().dialect.name == "postgresql" and not await session.scalar(
        sa.text("SELECT pg_try_advisory_xact_lock(hashtext('learn_popularity'))")
    ):
        return 0
    rows = await session.execute(
        sa.select(
            Holding.customer_id,
            Holding.product_code,
            Customer.age_band,
            Customer.assets_under_management,
            RiskAssessment.risk_level,
        )
        .join(Customer, Customer.customer_id == Holding.customer_id)
        .outerjoin(
            RiskAssessment,
            sa.and_(RiskAssessment.customer_id == Holding.customer_id, RiskAssessment.superseded_at.is_(None)),
        )
        .where(Holding.closed_at.is_(None))
    )
    members: dict[str, set[str]] = defaultdict(set)  # segment -> its customers holding anything
    pairs: set[tuple[str, str, str]] = set()  # (segment, customer, product), once per customer
    for row in rows:
        key = segment(level(row.risk_level), row.age_band, row.assets_under_management)
        members[key].add(row.customer_id)
        pairs.add((key, row.customer_id, row.product_code))
    held = Counter((key, code) for key, _, code in pairs)
    sizes = {key: len(customers) for key, customers in members.items()}
    moment = now()
    await session.execute(sa.delete(SegmentPopularity))
    if held:
        await session.execute(
            sa.insert(SegmentPopularity),
            [
                {"segment": key, "product_code": code, "share": count / sizes[key], "learned_at": moment}
                for (key, code), count in held.items()
            ],
        )
    return len(sizes)


async def similar_shares(session: AsyncSession, segment_key: str) -> dict[str, float]:
    rows = await session.execute(
        sa.select(SegmentPopularity.product_code, SegmentPopularity.share).where(
            SegmentPopularity.segment == segment_key
        )
    )
    return {row.product_code: row.share for row in rows}


def learn_popularity_job(every_seconds: float) -> PeriodicJob:
    async def run(sessions: async_sessionmaker[AsyncSession]) -> int:
        async with sessions() as session, session.begin():
            segments = await learn_popularity(session)
        log.info("popularity_learned", segments=segments)
        return 0  # done until the next period

    return PeriodicJob("learn-popularity", every_seconds, run)
