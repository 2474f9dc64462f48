import uuid
from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Header, Response, status
from sqlalchemy.ext.asyncio import AsyncSession

from events.contracts import ConsentGrantedV1, ConsentRevokedV1, new_event
from events.envelope import now
from services.consent.models import Consent, outbox
from services.consent.schemas import ConsentGrant, ConsentOut
from services.kit.db import SessionDep
from services.kit.problems import PROBLEM_RESPONSES, Conflict, NotFound

router = APIRouter(prefix="/api/v1", tags=["consents"], responses=PROBLEM_RESPONSES)

# Set by the gateway once it has authenticated the caller.
ActorId = Annotated[str, Header(alias="X-Actor-Id", max_length=64, description="Who acts; recorded.")]
CustomerScope = Annotated[
    str | None,
    Header(alias="X-Customer-Scope", description="Set when the caller is a customer: the one customer they act for."),
]


@router.post("/consents", status_code=status.HTTP_201_CREATED, response_model=ConsentOut)
async def grant_consent(
    body: ConsentGrant, session: SessionDep, response: Response, actor_id: ActorId = "unknown"
) -> Consent:
    async with session.begin():
        consent = Consent(id=str(uuid.uuid4()), granted_at=now(), granted_by=actor_id, **body.model_dump())
        session.add(consent)
        await session.flush()
        event = ConsentGrantedV1(
            consent_id=consent.id,
            customer_id=consent.customer_id,
            recipient=consent.recipient,
            purpose=consent.purpose,
            data_categories=consent.data_categories,
            expires_at=consent.expires_at,
        )
        await outbox.add(session, new_event("consent.granted", event, source="consent"), aggregate_type="consent")
    response.headers["Location"] = f"/api/v1/consents/{consent.id}"
    return consent


async def _get(session: AsyncSession, consent_id: str, *, scope: str | None, for_update: bool = False) -> Consent:
    consent = await session.get(Consent, consent_id, with_for_update=for_update)
    # A customer asking about another customer's consent learns nothing, not even that it exists.
    if consent is None or (scope is not None and consent.customer_id != scope):
        raise NotFound("No consent has this id.")
    return consent


@router.get("/consents/{consent_id}", response_model=ConsentOut)
async def read_consent(consent_id: str, session: SessionDep, scope: CustomerScope = None) -> Consent:
    return await _get(session, consent_id, scope=scope)


@router.post("/consents/{consent_id}/revoke", response_model=ConsentOut)
async def revoke_consent(
    consent_id: str, session: SessionDep, actor_id: ActorId = "unknown", scope: CustomerScope = None
) -> Consent:
    async with session.begin():
        # The row stays locked until commit: of two concurrent revocations, the second sees the first.
        consent = await _get(session, consent_id, scope=scope, for_update=True)
        if consent.status == "revoked":
            raise Conflict(f"The consent was already revoked at {consent.revoked_at.isoformat()}; nothing to do.")
        if consent.status == "expired":
            raise Conflict("The consent has expired and allows nothing any more; there is nothing to revoke.")
        consent.revoked_at = now()
        consent.revoked_by = actor_id
        await session.flush()
        event = ConsentRevokedV1(
            consent_id=consent.id,
            customer_id=consent.customer_id,
            recipient=consent.recipient,
            purpose=consent.purpose,
            revoked_at=consent.revoked_at,
        )
        await outbox.add(session, new_event("consent.revoked", event, source="consent"), aggregate_type="consent")
    return consent


@router.get("/customers/{customer_id}/consents", response_model=list[ConsentOut])
async def list_consents(customer_id: str, session: SessionDep) -> list[Consent]:
    """Newest first. A customer this service has never seen simply has none."""
    query = (
        sa.select(Consent)
        .where(Consent.customer_id == customer_id)
        .order_by(Consent.granted_at.desc(), Consent.id)
    )
    return list(await session.scalars(query))
