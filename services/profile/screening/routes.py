"""Screening over HTTP: the compliance queue of alerts and their decisions, list versions,
customers' money-laundering risk ratings and the periodic reviews that fall due."""

import json
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.kit.clock import now
from services.kit.db import SessionDep
from services.kit.identity import ActorDep
from services.kit.params import CustomerId, IntegerPathId, PathId
from services.kit.problems import PROBLEM_RESPONSES, Conflict, NotFound
from services.profile import service
from services.profile.models import Customer, audit
from services.profile.screening import alerts, risk
from services.profile.screening.models import (
    AmlRating,
    AmlReview,
    ScreeningAlert,
    ScreeningDecision,
    ScreeningList,
    ScreeningRun,
)

router = APIRouter(prefix="/api/v1", tags=["screening"], responses=PROBLEM_RESPONSES)


class AlertDecisionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    actor: str
    outcome: str
    reason: str
    at: datetime


class AlertOut(BaseModel):
    id: str
    customer_id: str
    list_name: str
    list_version: int
    entity_id: str
    score: Decimal
    decision: Literal["match", "review"]
    reason_code: str
    reasons: list[str] = Field(description="Which name parts matched and how; birth date and nationality.")
    topics: list[str]
    trigger: str
    status: Literal["open", "confirming", "true_match", "false_positive"]
    proposed_outcome: str | None
    decisions: list[AlertDecisionOut]
    created_at: datetime
    closed_at: datetime | None


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: Literal["true_match", "false_positive"]
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=500)] = Field(
        description="Why: for a false positive, what tells the customer and the listed person apart."
    )


class ListVersionOut(BaseModel):
    name: str
    version: int
    source: str
    list_format: str
    entries: int
    active: bool
    loaded_at: datetime
    rescreening: Literal["pending", "done"] = Field(description="The whole book's re-screening for this version.")
    rescreened: int = Field(description="Customers re-screened so far.")


class RatingOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    customer_id: str
    rating: Literal["low", "medium", "high"]
    score: int
    factors: list[str]
    enhanced_due_diligence: bool
    rated_at: datetime
    review_due: date


class ReviewOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    customer_id: str
    rating: str
    due_on: date
    status: str
    completed_at: datetime | None
    completed_by: str | None


async def _alert_out(session, alert: ScreeningAlert) -> AlertOut:
    decisions = await session.scalars(
        sa.select(ScreeningDecision).where(ScreeningDecision.alert_id == alert.id).order_by(ScreeningDecision.id)
    )
    detail = json.loads(alert.reasons)
    return AlertOut(
        id=alert.id,
        customer_id=alert.customer_id,
        list_name=alert.list_name,
        list_version=alert.list_version,
        entity_id=alert.entity_id,
        score=alert.score,
        decision=alert.decision,
        reason_code=alert.reason_code,
        reasons=detail["reasons"],
        topics=detail["topics"],
        trigger=alert.trigger,
        status=alert.status,
        proposed_outcome=alert.proposed_outcome,
        decisions=[AlertDecisionOut.model_validate(d) for d in decisions],
        created_at=alert.created_at,
        closed_at=alert.closed_at,
    )


@router.get("/screening/alerts", response_model=list[AlertOut])
async def alert_queue(
    session: SessionDep,
    actor: ActorDep,
    request: Request,
    status: Literal["open", "confirming", "true_match", "false_positive"] | None = Query(
        None, description="Default: every alert still waiting for a decision (open or confirming)."
    ),
    customer_id: str | None = None,
    limit: int = Query(100, ge=1, le=500),
) -> list[AlertOut]:
    """The compliance queue, oldest first."""
    alerts.require_compliance(actor, request.app.state.settings)
    query = sa.select(ScreeningAlert).order_by(ScreeningAlert.created_at, ScreeningAlert.id).limit(limit)
    query = (
        query.where(ScreeningAlert.status == status)
        if status
        else query.where(ScreeningAlert.status.in_(("open", "confirming")))
    )
    if customer_id:
        query = query.where(ScreeningAlert.customer_id == customer_id)
    async with session.begin():
        found = list(await session.scalars(query))
        await audit.record_many(
            session,
            actor=actor.id,
            role=actor.role,
            action="screening_queue",
            customer_ids=sorted({a.customer_id for a in found}),
            fields=["screening_alert"],
            reason=actor.reason,
        )
        return [await _alert_out(session, a) for a in found]


@router.get("/screening/alerts/{alert_id}", response_model=AlertOut)
async def read_alert(alert_id: PathId, session: SessionDep, actor: ActorDep, request: Request) -> AlertOut:
    alerts.require_compliance(actor, request.app.state.settings)
    async with session.begin():
        alert = await alerts.get_alert(session, alert_id)
        await audit.record(
            session,
            actor=actor.id,
            role=actor.role,
            action="screening_alert",
            customer_id=alert.customer_id,
            fields=["screening_alert"],
            reason=actor.reason,
        )
        return await _alert_out(session, alert)


@router.post("/screening/alerts/{alert_id}/decisions", response_model=AlertOut, responses={403: PROBLEM_RESPONSES[409]})
async def decide_alert(
    alert_id: PathId, body: DecisionIn, session: SessionDep, actor: ActorDep, request: Request
) -> AlertOut:
    """One compliance officer's decision. Two different officers must agree to close an alert;
    a false positive is remembered for this customer and entry until either changes."""
    settings = request.app.state.settings
    alerts.require_compliance(actor, settings)
    async with session.begin():
        alert = await alerts.get_alert(session, alert_id, for_update=True)
        await alerts.decide(session, alert, outcome=body.outcome, reason=body.reason, actor=actor, settings=settings)
        if alert.status == "true_match":
            customer = await session.get_one(Customer, alert.customer_id)
            await risk.rerate(session, customer, settings)
        return await _alert_out(session, alert)


@router.get("/screening/lists", response_model=list[ListVersionOut])
async def list_versions(session: SessionDep, actor: ActorDep, request: Request) -> list[ListVersionOut]:
    """Every loaded version of every list, newest first (the active one marked), with how far
    the book's re-screening for it has come."""
    alerts.require_compliance(actor, request.app.state.settings)
    async with session.begin():
        rows = (
            await session.execute(
                sa.select(ScreeningList, ScreeningRun.status, ScreeningRun.screened)
                .join(ScreeningRun, ScreeningRun.list_id == ScreeningList.id)
                .order_by(ScreeningList.name, ScreeningList.version.desc())
            )
        ).all()
    return [
        ListVersionOut(
            name=v.name,
            version=v.version,
            source=v.source,
            list_format=v.list_format,
            entries=v.entries,
            active=v.active,
            loaded_at=v.loaded_at,
            rescreening=status,
            rescreened=screened,
        )
        for v, status, screened in rows
    ]


@router.get("/customers/{customer_id}/aml-risk", response_model=RatingOut)
async def aml_risk(customer_id: CustomerId, session: SessionDep, actor: ActorDep, request: Request) -> AmlRating:
    """The customer's money-laundering risk rating and the factors that set it."""
    async with session.begin():
        await service.get_visible(session, customer_id, actor, request.app.state.settings)
        rating = await session.get(AmlRating, customer_id)
        if rating is None:
            raise NotFound("This customer has not been rated yet.")
        await audit.record(
            session,
            actor=actor.id,
            role=actor.role,
            action="aml_risk",
            customer_id=customer_id,
            fields=["aml_risk"],
            reason=actor.reason,
        )
        return rating


@router.get("/aml-reviews", response_model=list[ReviewOut])
async def due_reviews(
    session: SessionDep,
    actor: ActorDep,
    request: Request,
    due_by: date | None = Query(None, description="Reviews due on or before this day; default today."),
    limit: int = Query(100, ge=1, le=500),
) -> list[AmlReview]:
    """Periodic reviews that have fallen due (tasks), the most overdue first."""
    alerts.require_compliance(actor, request.app.state.settings)
    async with session.begin():
        found = list(
            await session.scalars(
                sa.select(AmlReview)
                .where(AmlReview.status == "open", AmlReview.due_on <= (due_by or now().date()))
                .order_by(AmlReview.due_on, AmlReview.id)
                .limit(limit)
            )
        )
        await audit.record_many(
            session,
            actor=actor.id,
            role=actor.role,
            action="aml_reviews",
            customer_ids=sorted({r.customer_id for r in found}),
            fields=["aml_risk"],
            reason=actor.reason,
        )
        return found


@router.post("/aml-reviews/{review_id}/completion", response_model=RatingOut)
async def complete_review(
    review_id: IntegerPathId, session: SessionDep, actor: ActorDep, request: Request
) -> AmlRating:
    """The review is done: the customer is rated again and the next review is scheduled."""
    settings = request.app.state.settings
    alerts.require_compliance(actor, settings)
    async with session.begin():
        review = await session.get(AmlReview, review_id, with_for_update=True)
        if review is None:
            raise NotFound("No review task has this id.")
        if review.status != "open":
            raise Conflict(f"This review is no longer open ({review.status}).")
        review.status, review.completed_at, review.completed_by = "done", now(), actor.id
        customer = await session.get_one(Customer, review.customer_id)
        rating = await risk.rerate(session, customer, settings, reviewed=True)
        await audit.record(
            session,
            actor=actor.id,
            role=actor.role,
            action="aml_review",
            customer_id=customer.id,
            fields=["aml_risk"],
            reason=actor.reason,
        )
        return rating
