"""Loyalty points over HTTP: balance, history, redemptions and adjustments."""

from datetime import datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, status
from pydantic import BaseModel, ConfigDict, Field

from services.churn.points import ledger
from services.kit.clock import now
from services.kit.db import SessionDep
from services.kit.identity import ActorDep
from services.kit.params import CustomerId, IdField
from services.kit.problems import PROBLEM_RESPONSES, Forbidden, Problem

router = APIRouter(prefix="/api/v1/customers", tags=["loyalty points"], responses=PROBLEM_RESPONSES)
REDEEMING_ROLES = {"customer", "relationship_manager", "service_agent", "admin"}
ADJUSTING_ROLES = {"admin"}
ReasonCode = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,63}$", description="A reason code, e.g. `cashback`.")]


class BalanceOut(BaseModel):
    customer_id: str
    balance: int
    updated_at: datetime | None


class MovementOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: Literal["earn", "redeem", "expire", "adjust"]
    points: int
    reason: str
    created_at: datetime
    expires_at: datetime | None


class Redemption(BaseModel):
    model_config = ConfigDict(extra="forbid")

    points: int = Field(gt=0, le=10_000_000)
    request_id: IdField = Field(description="The caller's id for this redemption; a retry with it redeems once.")
    reason: ReasonCode = "redemption"


class Adjustment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    points: int = Field(ge=-10_000_000, le=10_000_000, description="Added (positive) or taken (negative); not 0.")
    request_id: IdField
    reason: ReasonCode


def _settings(request: Request):
    return request.app.state.settings


@router.get("/{customer_id}/points", response_model=BalanceOut)
async def points_balance(customer_id: CustomerId, session: SessionDep) -> BalanceOut:
    account = await ledger.balance(session, customer_id)
    return BalanceOut(
        customer_id=customer_id,
        balance=account.balance if account else 0,
        updated_at=account.updated_at if account else None,
    )


@router.get("/{customer_id}/points/history", response_model=list[MovementOut])
async def points_history(
    customer_id: CustomerId,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    before: Annotated[int | None, Query(description="Only movements with a smaller id (the next page).")] = None,
) -> list:
    return await ledger.history(session, customer_id, limit=limit, before=before)


@router.post("/{customer_id}/points/redemptions", response_model=MovementOut, status_code=status.HTTP_201_CREATED)
async def redeem(customer_id: CustomerId, body: Redemption, session: SessionDep, actor: ActorDep):
    if actor.role not in REDEEMING_ROLES:
        raise Forbidden(f"The role '{actor.role}' may not redeem points.")
    async with session.begin():
        movement, _ = await ledger.move(
            session,
            customer_id=customer_id,
            kind="redeem",
            points=-body.points,
            source_id=f"redeem:{body.request_id}",
            reason=body.reason,
        )
    return movement


@router.post("/{customer_id}/points/adjustments", response_model=MovementOut, status_code=status.HTTP_201_CREATED)
async def adjust(customer_id: CustomerId, body: Adjustment, session: SessionDep, actor: ActorDep, request: Request):
    if actor.role not in ADJUSTING_ROLES:
        raise Forbidden(f"The role '{actor.role}' may not adjust points.")
    if body.points == 0:
        raise Problem("An adjustment of 0 points changes nothing; send a positive or negative number.", status=422)
    expires = now() + timedelta(days=_settings(request).points_expire_after_days) if body.points > 0 else None
    async with session.begin():
        movement, _ = await ledger.move(
            session,
            customer_id=customer_id,
            kind="adjust",
            points=body.points,
            source_id=f"adjust:{body.request_id}",
            reason=body.reason,
            expires_at=expires,
        )
    return movement
