import uuid
from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Header, Response, status

from events.contracts import CustomerCreatedV1, CustomerUpdatedV1, new_event
from events.envelope import now
from services.kit import crypto
from services.kit.db import SessionDep
from services.kit.identity import ActorDep
from services.kit.problems import PROBLEM_RESPONSES, Conflict, NotFound, Problem
from services.profile.declarations import FIELDS, FieldDeclaration
from services.profile.models import Customer, audit, outbox
from services.profile.schemas import CustomerCreate, CustomerLookup, CustomerOut, CustomerUpdate

router = APIRouter(prefix="/api/v1/customers", tags=["customers"], responses=PROBLEM_RESPONSES)


class PreconditionFailed(Problem):
    status = 412
    title = "Precondition failed"


# Every personal field a customer response carries; recorded by name in the audit trail.
RETURNED_FIELDS = [field.name for field in FIELDS]


def _etag(customer: Customer) -> str:
    return f'"{customer.version}"'


@router.post("", status_code=status.HTTP_201_CREATED, response_model=CustomerOut)
async def create_customer(body: CustomerCreate, session: SessionDep, actor: ActorDep, response: Response) -> Customer:
    keys = crypto.keyring()
    async with session.begin():
        national_id_index = keys.blind_index(body.national_id, field="national_id")
        taken = await session.scalar(sa.select(Customer.id).where(Customer.national_id_index == national_id_index))
        if taken is not None:
            raise Conflict("A customer with this national ID already exists; read or update that record instead.")
        moment = now()
        customer = Customer(
            id=str(uuid.uuid4()),
            version=1,
            created_at=moment,
            updated_at=moment,
            national_id_index=national_id_index,
            phone_index=keys.blind_index(body.phone, field="phone"),
            key_id=keys.active_key_id,
            **body.model_dump(),
        )
        session.add(customer)
        await session.flush()
        event = CustomerCreatedV1(
            customer_id=customer.id,
            risk_level=customer.risk_level,
            assets_under_management=customer.assets_under_management,
        )
        await outbox.add(session, new_event("customer.created", event, source="profile"), aggregate_type="customer")
        await audit.record(session, actor=actor.id, role=actor.role, action="create", customer_id=customer.id,
                           fields=body.model_fields_set, reason=actor.reason)
    response.headers["ETag"] = _etag(customer)
    response.headers["Location"] = f"/api/v1/customers/{customer.id}"
    return customer


async def _get(session, customer_id: str) -> Customer:
    customer = await session.get(Customer, customer_id)
    if customer is None:
        raise NotFound("No customer has this id.")
    return customer


@router.get("/{customer_id}", response_model=CustomerOut)
async def read_customer(customer_id: str, session: SessionDep, actor: ActorDep, response: Response) -> Customer:
    async with session.begin():
        customer = await _get(session, customer_id)
        await audit.record(session, actor=actor.id, role=actor.role, action="read", customer_id=customer_id,
                           fields=RETURNED_FIELDS, reason=actor.reason)
    response.headers["ETag"] = _etag(customer)
    return customer


@router.patch("/{customer_id}", response_model=CustomerOut, responses={412: PROBLEM_RESPONSES[409]})
async def update_customer(
    customer_id: str,
    body: CustomerUpdate,
    session: SessionDep,
    actor: ActorDep,
    response: Response,
    if_match: Annotated[str | None, Header(description="ETag from a previous read; 412 if the record changed since.")] = None,
) -> Customer:
    async with session.begin():
        customer = await _get(session, customer_id)
        if if_match is not None and if_match.strip() != _etag(customer):
            raise PreconditionFailed("The customer changed since you read it; read it again and re-apply your change.")
        changes = {k: v for k, v in body.model_dump(exclude_unset=True).items() if getattr(customer, k) != v}
        if changes:
            for field, value in changes.items():
                setattr(customer, field, value)
            if "phone" in changes:
                customer.phone_index = crypto.keyring().blind_index(customer.phone, field="phone")
            customer.version += 1
            customer.updated_at = now()
            await session.flush()
            event = CustomerUpdatedV1(
                customer_id=customer.id,
                risk_level=customer.risk_level,
                assets_under_management=customer.assets_under_management,
                changed_fields=sorted(changes),
            )
            await outbox.add(session, new_event("customer.updated", event, source="profile"), aggregate_type="customer")
        await audit.record(session, actor=actor.id, role=actor.role, action="update", customer_id=customer.id,
                           fields=changes, reason=actor.reason)
    response.headers["ETag"] = _etag(customer)
    return customer


@router.post("/search", response_model=list[CustomerOut])
async def find_customers(body: CustomerLookup, session: SessionDep, actor: ActorDep) -> list[Customer]:
    """Exact look-up by national ID or phone, through their blind indexes (never plaintext).

    A POST, so that identifiers never appear in URLs, access logs or proxies."""
    keys = crypto.keyring()
    if body.national_id is not None:
        condition = Customer.national_id_index == keys.blind_index(body.national_id, field="national_id")
    else:
        condition = Customer.phone_index == keys.blind_index(body.phone, field="phone")
    async with session.begin():
        found = list(await session.scalars(sa.select(Customer).where(condition).order_by(Customer.created_at)))
        for customer in found:
            await audit.record(session, actor=actor.id, role=actor.role, action="search", customer_id=customer.id,
                               fields=RETURNED_FIELDS, reason=actor.reason)
    return found


declarations_router = APIRouter(prefix="/api/v1/data-declarations", tags=["data catalogue"])


@declarations_router.get("", response_model=list[FieldDeclaration])
async def data_declarations() -> tuple[FieldDeclaration, ...]:
    """Every stored customer field with its category and sensitivity (R2.1)."""
    return FIELDS
