import io
import tempfile
from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Header, Query, Request, Response, status

from events.contracts.terms import Stage, Tier
from services.kit import crypto
from services.kit.audit import ACCESS_RECORDED_HEADER
from services.kit.db import SessionDep
from services.kit.hot_route import HotRoute
from services.kit.identity import ActorDep
from services.kit.pagination import After, Keyset, Limit
from services.kit.params import CustomerId
from services.kit.problems import PROBLEM_RESPONSES, PreconditionFailed, Problem
from services.profile import imports, service
from services.profile.models import Customer, StageChange, audit, legal_holds
from services.profile.schemas import (
    CustomerCreate,
    CustomerLookup,
    CustomerOut,
    CustomerPage,
    CustomerUpdate,
    ErasureRequest,
    LegalHoldIn,
    LegalHoldOut,
    ManagerAssignment,
    StageChangeIn,
    StageChangeOut,
)

router = APIRouter(prefix="/api/v1/customers", tags=["customers"], responses=PROBLEM_RESPONSES)
# The customer read, the hottest route of all: its own router, matched first (services/profile/
# app.py), with the lean request handling of a HotRoute.
read_router = APIRouter(
    prefix="/api/v1/customers", tags=["customers"], responses=PROBLEM_RESPONSES, route_class=HotRoute
)
BY_ID = Keyset(Customer.id)


# An import file is kept in memory up to this size, on disk beyond (read back as a stream).
IMPORT_SPOOL_BYTES = 1 << 20


def _etag(customer: Customer) -> str:
    return f'"{customer.version}"'


def _settings(request: Request):
    return request.app.state.settings


@router.post("", status_code=status.HTTP_201_CREATED, response_model=CustomerOut)
async def create_customer(
    body: CustomerCreate, session: SessionDep, actor: ActorDep, request: Request, response: Response
) -> Customer:
    async with session.begin():
        customer = await service.create(session, body, actor, _settings(request))
    response.headers["ETag"] = _etag(customer)
    response.headers["Location"] = f"/api/v1/customers/{customer.id}"
    return customer


@router.get("", response_model=CustomerPage)
async def list_customers(
    session: SessionDep,
    actor: ActorDep,
    request: Request,
    tier: Tier | None = None,
    stage: Stage | None = None,
    manager: str | None = Query(None, description="Relationship manager id."),
    after: After = None,
    limit: Limit = 50,
) -> CustomerPage:
    settings = _settings(request)
    if actor.role in settings.assigned_only_roles:
        manager = actor.id  # managers list their own customers only
    query = sa.select(Customer).where(Customer.erased_at.is_(None))
    if actor.customer_scope is not None:
        query = query.where(Customer.id == actor.customer_scope)  # a customer lists only themselves
    for column, value in (
        (Customer.tier, tier),
        (Customer.lifecycle_stage, stage),
        (Customer.relationship_manager_id, manager),
    ):
        if value is not None:
            query = query.where(column == value)
    async with session.begin():
        page, next_cursor = BY_ID.page(list(await session.scalars(BY_ID.apply(query, after, limit))), limit)
        await audit.record_many(
            session,
            actor=actor.id,
            role=actor.role,
            action="list",
            customer_ids=[c.id for c in page],
            fields=actor.released_in_clear(service.RETURNED_FIELDS),
            reason=actor.reason,
        )
    return CustomerPage(items=page, next_cursor=next_cursor)


@read_router.get("/{customer_id}", response_model=CustomerOut)
async def read_customer(customer_id: CustomerId, actor: ActorDep, request: Request) -> Response:
    # No request session: the read is one statement on a connection of its own (service.read_audited).
    customer = await service.read_audited(request.app.state.engine, customer_id, actor, _settings(request))
    return Response(
        CustomerOut.model_validate(customer).model_dump_json(),
        media_type="application/json",
        headers={"ETag": _etag(customer), ACCESS_RECORDED_HEADER: "profile"},
    )


@router.patch("/{customer_id}", response_model=CustomerOut, responses={412: PROBLEM_RESPONSES[409]})
async def update_customer(
    customer_id: CustomerId,
    body: CustomerUpdate,
    session: SessionDep,
    actor: ActorDep,
    request: Request,
    response: Response,
    if_match: Annotated[
        str | None, Header(description="ETag from a previous read; 412 if the record changed since.")
    ] = None,
) -> Customer:
    settings = _settings(request)
    async with session.begin():
        customer = await service.get_visible(session, customer_id, actor, settings)
        if if_match is not None and if_match.strip() != _etag(customer):
            raise PreconditionFailed("The customer changed since you read it; read it again and re-apply your change.")
        await service.update(session, customer, body.model_dump(exclude_unset=True), actor, settings)
    response.headers["ETag"] = _etag(customer)
    return customer


@router.post("/search", response_model=list[CustomerOut])
async def find_customers(
    body: CustomerLookup, session: SessionDep, actor: ActorDep, request: Request
) -> list[Customer]:
    """Exact look-up by national ID or phone, through their blind indexes (never plaintext).

    A POST, so that identifiers never appear in URLs, access logs or proxies."""
    keys = crypto.keyring()
    condition: sa.ColumnElement[bool]
    if body.national_id is not None:
        condition = Customer.national_id_index.in_(keys.blind_indexes(body.national_id, field="national_id"))
    else:
        assert body.phone is not None  # CustomerLookup holds exactly one of the two
        condition = Customer.phone_index.in_(keys.blind_indexes(body.phone, field="phone"))
    settings = _settings(request)
    async with session.begin():
        found = [
            c
            for c in await session.scalars(sa.select(Customer).where(condition).order_by(Customer.created_at))
            if service.may_see(actor, c, settings)
        ]
        await audit.record_many(
            session,
            actor=actor.id,
            role=actor.role,
            action="search",
            customer_ids=[c.id for c in found],
            fields=actor.released_in_clear(service.RETURNED_FIELDS),
            reason=actor.reason,
        )
    return found


@router.post(
    "/imports",
    status_code=status.HTTP_200_OK,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "text/csv": {
                    "schema": {"type": "string", "description": "CSV with a header row, one customer per row."}
                },
                "application/x-ndjson": {
                    "schema": {"type": "string", "description": "JSON Lines, one customer object per line."}
                },
            },
        }
    },
)
async def import_customers(session: SessionDep, actor: ActorDep, request: Request) -> dict:
    """Bulk import (CSV with a header row, or JSON Lines): all rows or none; idempotent by
    `external_ref`; every bad row reported with its line number and reason."""
    media_type = request.headers.get("content-type", "")
    if "csv" not in media_type and "ndjson" not in media_type and "jsonl" not in media_type:
        raise Problem("Send the file as text/csv or application/x-ndjson.", status=415, title="Unsupported media type")
    with tempfile.SpooledTemporaryFile(max_size=IMPORT_SPOOL_BYTES) as spool:
        async for part in request.stream():
            spool.write(part)
        spool.seek(0)
        text = io.TextIOWrapper(spool, encoding="utf-8-sig", newline="")
        async with session.begin():
            report = await imports.import_customers(session, text, media_type, actor, _settings(request))
    return {"rows": report.rows, "created": report.created, "skipped_existing": report.skipped_existing}


@router.post("/{customer_id}/lifecycle", response_model=CustomerOut)
async def change_stage(
    customer_id: CustomerId, body: StageChangeIn, session: SessionDep, actor: ActorDep, request: Request
) -> Customer:
    async with session.begin():
        settings = _settings(request)
        customer = await service.get_visible(session, customer_id, actor, settings)
        await service.move_stage(session, customer, body.stage, actor, body.reason, settings)
    return customer


@router.get("/{customer_id}/lifecycle", response_model=list[StageChangeOut])
async def stage_history(
    customer_id: CustomerId, session: SessionDep, actor: ActorDep, request: Request
) -> list[StageChange]:
    async with session.begin():
        await service.get_visible(session, customer_id, actor, _settings(request))
        return list(
            await session.scalars(
                sa.select(StageChange).where(StageChange.customer_id == customer_id).order_by(StageChange.id)
            )
        )


@router.get("/{customer_id}/relationship-manager", response_model=ManagerAssignment)
async def assigned_manager(customer_id: CustomerId, session: SessionDep) -> ManagerAssignment:
    """Who manages the customer; the gateway asks to keep managers to their own customers."""
    manager = await session.scalar(sa.select(Customer.relationship_manager_id).where(Customer.id == customer_id))
    return ManagerAssignment(relationship_manager_id=manager)


@router.put("/{customer_id}/relationship-manager", response_model=CustomerOut)
async def assign_manager(
    customer_id: CustomerId, body: ManagerAssignment, session: SessionDep, actor: ActorDep, request: Request
) -> Customer:
    async with session.begin():
        customer = await service.get_visible(session, customer_id, actor, _settings(request))
        await service.assign_manager(session, customer, body.relationship_manager_id, actor)
    return customer


@router.post("/{customer_id}/erasure", status_code=status.HTTP_202_ACCEPTED)
async def erase_customer(
    customer_id: CustomerId, body: ErasureRequest, session: SessionDep, actor: ActorDep, request: Request
) -> dict:
    """Anonymise the customer: identifiers destroyed, aggregates kept; every service is told."""
    async with session.begin():
        customer = await service.get_visible(session, customer_id, actor, _settings(request), for_update=True)
        await service.erase(session, customer, actor, body.reason)
    return {"customer_id": customer_id, "erased_at": customer.erased_at}


@router.put("/{customer_id}/legal-hold", response_model=LegalHoldOut)
async def place_legal_hold(
    customer_id: CustomerId, body: LegalHoldIn, session: SessionDep, actor: ActorDep, request: Request
) -> LegalHoldOut:
    """Suspend retention and erasure of the customer's data in every service until released."""
    async with session.begin():
        customer = await service.get_visible(session, customer_id, actor, _settings(request), for_update=True)
        await service.hold(session, customer, body.reference, actor)
        row = (await session.execute(sa.select(legal_holds).where(legal_holds.c.customer_id == customer_id))).one()
    return LegalHoldOut(**row._mapping)


@router.delete("/{customer_id}/legal-hold", status_code=status.HTTP_204_NO_CONTENT)
async def release_legal_hold(customer_id: CustomerId, session: SessionDep, actor: ActorDep, request: Request) -> None:
    async with session.begin():
        await service.get_visible(session, customer_id, actor, _settings(request), for_update=True)
        await service.release(session, customer_id, actor)
