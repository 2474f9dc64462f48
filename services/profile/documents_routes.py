"""Routes of identity documents (KYC follow-up) and related-party links; see documents.py."""

from fastapi import APIRouter, Query, Request, status

from services.kit.db import SessionDep
from services.kit.identity import ActorDep
from services.kit.pagination import After, Limit
from services.kit.params import CustomerId, PathId
from services.kit.problems import PROBLEM_RESPONSES
from services.profile import documents, service
from services.profile.documents import (
    DocumentIn,
    DocumentOut,
    ExpiringPage,
    LinkIn,
    LinkOut,
)

router = APIRouter(responses=PROBLEM_RESPONSES)

CUSTOMER = "/api/v1/customers/{customer_id}"


def _settings(request: Request):
    return request.app.state.settings


@router.post(
    CUSTOMER + "/documents", status_code=status.HTTP_201_CREATED, response_model=DocumentOut, tags=["documents"]
)
async def add_document(
    customer_id: CustomerId, body: DocumentIn, session: SessionDep, actor: ActorDep, request: Request
) -> DocumentOut:
    settings = _settings(request)
    async with session.begin():
        customer = await service.get_visible(session, customer_id, actor, settings)
        return await documents.add_document(session, customer, body, actor, settings)


@router.get(CUSTOMER + "/documents", response_model=list[DocumentOut], tags=["documents"])
async def list_documents(
    customer_id: CustomerId, session: SessionDep, actor: ActorDep, request: Request
) -> list[DocumentOut]:
    settings = _settings(request)
    async with session.begin():
        customer = await service.get_visible(session, customer_id, actor, settings)
        return await documents.list_documents(session, customer, actor, settings)


@router.get("/api/v1/documents/expiring", response_model=ExpiringPage, tags=["documents"])
async def documents_needing_follow_up(
    session: SessionDep,
    actor: ActorDep,
    request: Request,
    within_days: int | None = Query(None, ge=0, le=3650, description="Default: the expiry notice period."),
    after: After = None,
    limit: Limit = 50,
) -> ExpiringPage:
    """Documents expired or expiring soon, soonest first, for KYC follow-up (no numbers)."""
    settings = _settings(request)
    # Managers follow up their own customers only.
    manager = actor.id if actor.role in settings.assigned_only_roles else None
    if within_days is None:
        within_days = documents.notice_days(settings)
    async with session.begin():
        return await documents.needing_follow_up(
            session, actor, settings, within_days=within_days, manager=manager, after=after, limit=limit
        )


@router.post(
    CUSTOMER + "/relationships", status_code=status.HTTP_201_CREATED, response_model=LinkOut, tags=["relationships"]
)
async def link_customers(
    customer_id: CustomerId, body: LinkIn, session: SessionDep, actor: ActorDep, request: Request
) -> LinkOut:
    settings = _settings(request)
    async with session.begin():
        customer = await service.get_visible(session, customer_id, actor, settings)
        related = await service.get_visible(session, body.related_customer_id, actor, settings)
        return await documents.add_link(session, customer, related, body, actor)


@router.get(CUSTOMER + "/relationships", response_model=list[LinkOut], tags=["relationships"])
async def list_links(customer_id: CustomerId, session: SessionDep, actor: ActorDep, request: Request) -> list[LinkOut]:
    settings = _settings(request)
    async with session.begin():
        customer = await service.get_visible(session, customer_id, actor, settings)
        return await documents.list_links(
            session, customer, actor, may_see=lambda other: service.may_see(actor, other, settings)
        )


@router.delete(
    CUSTOMER + "/relationships/{relationship_id}", status_code=status.HTTP_204_NO_CONTENT, tags=["relationships"]
)
async def unlink_customers(
    customer_id: CustomerId, relationship_id: PathId, session: SessionDep, actor: ActorDep, request: Request
) -> None:
    async with session.begin():
        customer = await service.get_visible(session, customer_id, actor, _settings(request))
        await documents.remove_link(session, customer, relationship_id, actor)
