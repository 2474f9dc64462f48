"""Routes of households, tier history and service reviews; see segments.py."""

import sqlalchemy as sa
from fastapi import APIRouter, Request, status

from services.kit.db import SessionDep
from services.kit.identity import ActorDep
from services.kit.params import CustomerId, PathId
from services.kit.problems import PROBLEM_RESPONSES
from services.profile import segments, service
from services.profile.models import TierChange, audit
from services.profile.segments import HouseholdIn, HouseholdOut, ReviewOut, ServiceReview, TierChangeOut

router = APIRouter(prefix="/api/v1/customers/{customer_id}", responses=PROBLEM_RESPONSES)


def _settings(request: Request):
    return request.app.state.settings


@router.get("/household", response_model=HouseholdOut, tags=["households"])
async def read_household(
    customer_id: CustomerId, session: SessionDep, actor: ActorDep, request: Request
) -> HouseholdOut:
    """The customer's household: its members and their combined assets (R1.1)."""
    settings = _settings(request)
    async with session.begin():
        customer = await service.get_visible(session, customer_id, actor, settings)
        return await segments.household_of(session, customer, actor, settings)


@router.post("/household", response_model=HouseholdOut, tags=["households"])
async def join_household(
    customer_id: CustomerId, body: HouseholdIn, session: SessionDep, actor: ActorDep, request: Request
) -> HouseholdOut:
    """The listed customers join this customer's household (created if it has none)."""
    settings = _settings(request)
    async with session.begin():
        customer = await service.get_visible(session, customer_id, actor, settings)
        members = [
            await service.get_visible(session, m, actor, settings)
            for m in dict.fromkeys(body.members)
            if m != customer_id
        ]
        return await segments.join_household(session, customer, members, actor, settings)


@router.delete("/household", status_code=status.HTTP_204_NO_CONTENT, tags=["households"])
async def leave_household(customer_id: CustomerId, session: SessionDep, actor: ActorDep, request: Request) -> None:
    async with session.begin():
        await service.get_visible(session, customer_id, actor, _settings(request))
        await segments.leave_household(session, customer_id, actor)


@router.get("/tier-history", response_model=list[TierChangeOut], tags=["customers"])
async def tier_history(customer_id: CustomerId, session: SessionDep, actor: ActorDep, request: Request) -> list:
    """Every tier the customer has had, oldest first (re-tiering after a threshold change included)."""
    async with session.begin():
        await service.get_visible(session, customer_id, actor, _settings(request))
        await audit.record(
            session,
            actor=actor.id,
            role=actor.role,
            action="tier_history",
            customer_id=customer_id,
            fields=["tier"],
            reason=actor.reason,
        )
        return list(
            await session.scalars(
                sa.select(TierChange).where(TierChange.customer_id == customer_id).order_by(TierChange.id)
            )
        )


@router.get("/service-reviews", response_model=list[ReviewOut], tags=["service plan"])
async def service_reviews(customer_id: CustomerId, session: SessionDep, actor: ActorDep, request: Request) -> list:
    """The reviews the customer's service plan schedules (open and done), soonest first."""
    async with session.begin():
        await service.get_visible(session, customer_id, actor, _settings(request))
        return list(
            await session.scalars(
                sa.select(ServiceReview).where(ServiceReview.customer_id == customer_id).order_by(ServiceReview.due_on)
            )
        )


@router.post("/service-reviews/{review_id}/complete", response_model=ReviewOut, tags=["service plan"])
async def complete_review(
    customer_id: CustomerId, review_id: PathId, session: SessionDep, actor: ActorDep, request: Request
) -> ServiceReview:
    async with session.begin():
        customer = await service.get_visible(session, customer_id, actor, _settings(request))
        return await segments.complete_review(session, customer, review_id, actor)
