import sqlalchemy as sa
from fastapi import APIRouter

from services.kit.db import SessionDep
from services.kit.identity import ActorDep
from services.kit.params import CustomerId
from services.kit.problems import PROBLEM_RESPONSES
from services.recommendation.access import CUSTOMER_OR_MANAGER, own_customer, require_role
from services.recommendation.base import audit
from services.recommendation.holdings import service
from services.recommendation.holdings.models import Holding
from services.recommendation.holdings.schemas import HoldingList, HoldingOut, SaleIn

router = APIRouter(prefix="/api/v1/customers/{customer_id}", responses=PROBLEM_RESPONSES, tags=["holdings"])


@router.get("/holdings", response_model=HoldingList)
async def holdings(
    customer_id: CustomerId, session: SessionDep, actor: ActorDep, include_closed: bool = False
) -> HoldingList:
    own_customer(actor, customer_id)
    async with session.begin():
        query = sa.select(Holding).where(Holding.customer_id == customer_id).order_by(Holding.opened_at)
        if not include_closed:
            query = query.where(Holding.closed_at.is_(None))
        items = (await session.scalars(query)).all()
        await audit.record(
            session,
            actor=actor.id,
            role=actor.role,
            action="read_holdings",
            customer_id=customer_id,
            fields=["holdings"],
            reason=actor.reason,
        )
    return HoldingList(customer_id=customer_id, items=items)


@router.post("/sales", response_model=HoldingOut, status_code=201)
async def sell(customer_id: CustomerId, body: SaleIn, session: SessionDep, actor: ActorDep) -> Holding:
    """Record a sale made through the platform, after a suitability check that passed or warned."""
    require_role(actor, CUSTOMER_OR_MANAGER, "record sales")
    own_customer(actor, customer_id)
    async with session.begin():
        return await service.sell(session, customer_id, body.check_id, actor)
