from typing import Any

from fastapi import APIRouter, Request, Response, status

from services.consent import service
from services.consent.kpis import decisions
from services.consent.models import Consent, ConsentChange
from services.consent.receipts import receipt
from services.consent.schemas import (
    ConsentChangeOut,
    ConsentDecision,
    ConsentGrant,
    ConsentOut,
    ConsentReceipt,
    DecisionOut,
    DecisionRequest,
)
from services.kit.db import SessionDep
from services.kit.hot_route import HotRoute
from services.kit.identity import ActorDep
from services.kit.params import CustomerId, PathId
from services.kit.problems import PROBLEM_RESPONSES, NotFound

router = APIRouter(prefix="/api/v1", tags=["consents"], responses=PROBLEM_RESPONSES)
FORBIDDEN: dict[int | str, dict[str, Any]] = {403: PROBLEM_RESPONSES[409]}
# Decisions are asked before every share the gateway makes: their own router, matched first
# (services/consent/app.py), with the lean request handling of a HotRoute.
decisions_router = APIRouter(prefix="/api/v1", tags=["decisions"], responses=PROBLEM_RESPONSES, route_class=HotRoute)


@decisions_router.post("/decisions", response_model=DecisionOut)
async def decide(body: DecisionRequest, actor: ActorDep, request: Request) -> Response:
    """May `recipient` use these categories of the customer's data for `purpose` (now, or as of
    a past time)? Asked by the gateway before every share."""
    if not actor.reaches(body.customer_id):
        raise NotFound("No customer has this id.")  # a customer asks about themselves only
    reader = request.app.state.decisions
    if body.as_of is None and reader is not None:
        answer = await reader.decide(body)
    else:
        async with request.app.state.sessions() as session:
            answer = await service.decide(session, body)
    decisions.count(body, answer)
    # Built here as a DecisionOut already: written out as is, not validated a second time.
    return Response(answer.model_dump_json(), media_type="application/json")


def _settings(request: Request):
    return request.app.state.settings


@router.post("/consents", status_code=status.HTTP_201_CREATED, response_model=ConsentOut, responses=FORBIDDEN)
async def grant_consent(
    body: ConsentGrant, session: SessionDep, actor: ActorDep, request: Request, response: Response
) -> Consent:
    """The customer's own consent, in a customer channel: active at once. Staff ask through
    /consent-requests instead (maker-checker)."""
    async with session.begin():
        consent = await service.grant(session, body, actor=actor, settings=_settings(request))
    response.headers["Location"] = f"/api/v1/consents/{consent.id}"
    return consent


@router.post("/consent-requests", status_code=status.HTTP_201_CREATED, response_model=ConsentOut, responses=FORBIDDEN)
async def request_consent(
    body: ConsentGrant, session: SessionDep, actor: ActorDep, request: Request, response: Response
) -> Consent:
    """Sharing the bank initiates (maker): `requested` until a compliance officer other than the
    requester approves it."""
    async with session.begin():
        consent = await service.request(session, body, actor=actor, settings=_settings(request))
    response.headers["Location"] = f"/api/v1/consents/{consent.id}"
    return consent


@router.post("/consents/{consent_id}/approve", response_model=ConsentOut, responses=FORBIDDEN)
async def approve_consent(
    consent_id: PathId, session: SessionDep, actor: ActorDep, request: Request, body: ConsentDecision | None = None
) -> Consent:
    """Checker: the consent becomes active at once."""
    async with session.begin():
        return await service.approve(
            session, consent_id, actor=actor, settings=_settings(request), reason=body.reason if body else None
        )


@router.post("/consents/{consent_id}/reject", response_model=ConsentOut, responses=FORBIDDEN)
async def reject_consent(
    consent_id: PathId, session: SessionDep, actor: ActorDep, request: Request, body: ConsentDecision | None = None
) -> Consent:
    async with session.begin():
        return await service.reject(
            session, consent_id, actor=actor, settings=_settings(request), reason=body.reason if body else None
        )


@router.get("/consents/{consent_id}", response_model=ConsentOut)
async def read_consent(consent_id: PathId, session: SessionDep, actor: ActorDep) -> Consent:
    return await service.get(session, consent_id, scope=actor.customer_scope)


@router.post("/consents/{consent_id}/revoke", response_model=ConsentOut)
async def revoke_consent(consent_id: PathId, session: SessionDep, actor: ActorDep) -> Consent:
    """Takes effect at once: decisions deny from this moment."""
    async with session.begin():
        return await service.revoke(session, consent_id, actor=actor)


@router.get("/consents/{consent_id}/history", response_model=list[ConsentChangeOut])
async def consent_history(consent_id: PathId, session: SessionDep, actor: ActorDep) -> list[ConsentChange]:
    """Every status change, oldest first, with who made it and when."""
    return await service.history(session, consent_id, scope=actor.customer_scope)


@router.get("/consents/{consent_id}/receipt", response_model=ConsentReceipt)
async def consent_receipt(consent_id: PathId, session: SessionDep, actor: ActorDep, request: Request) -> ConsentReceipt:
    """Kantara Consent Receipt v1.1 fields, with the SHA-256 of the notice the customer saw."""
    consent = await service.get(session, consent_id, scope=actor.customer_scope)
    return receipt(consent, _settings(request))


@router.get("/customers/{customer_id}/consents", response_model=list[ConsentOut])
async def list_consents(customer_id: CustomerId, session: SessionDep) -> list[Consent]:
    """Newest first. A customer this service has never seen simply has none."""
    return await service.for_customer(session, customer_id)
