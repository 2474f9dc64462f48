"""Identity documents (KYC) and household / related-party links of a customer (R1.1, R2.2, R2.3).

A document number is personal data: encrypted at rest, compared only through its blind index,
and never put in events, logs or problem details. Like service.py, each function runs inside
the caller's transaction and writes its audit rows and events there.
"""

import uuid
from collections.abc import Callable
from datetime import date, datetime, timedelta
from enum import StrEnum
from functools import partial
from typing import Annotated, Literal, TypeVar, cast

import sqlalchemy as sa
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, defer, load_only, mapped_column

from events.contracts import CustomerDocumentExpiringV1
from events.contracts.terms import Stage, Tier
from services.kit import crypto
from services.kit.clock import now
from services.kit.db import UTCDateTime
from services.kit.identity import Actor
from services.kit.jobs import PeriodicJob
from services.kit.pagination import Keyset
from services.kit.params import IdField, IsoDate
from services.kit.problems import Conflict, NotFound, Problem
from services.profile.declarations import CATALOGUE
from services.profile.models import Base, Customer, audit, outbox
from services.profile.settings import ProfileSettings

# Names of what a response carries, for the audit trail (names only, never values).
DOCUMENT_FIELDS = ["document_number", "expires_on", "issued_on", "issuer", "type"]
SUMMARY_FIELDS = ["expires_on", "issuer", "type"]
RELATED_FIELDS = ["lifecycle_stage", "name", "tier"]


# --- Models -------------------------------------------------------------------------------


class Document(Base):
    __tablename__ = "customer_documents"
    __table_args__ = (
        # A document belongs to one person; nulls (erased numbers) never collide.
        sa.UniqueConstraint("type", "issuer", "number_index", name="uq_customer_documents_number"),
        # Documents by expiry (expiring lists, the KPIs' expiring count per customer): the
        # customer is included, so the KPI count is answered from the index alone.
        sa.Index("ix_customer_documents_expires_on_customer", "expires_on", postgresql_include=["customer_id"]),
    )

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    customer_id: Mapped[str] = mapped_column(sa.ForeignKey("customers.id"), index=True)
    type: Mapped[str] = mapped_column(sa.String(32))
    # Encrypted at rest; null once the customer is erased.
    document_number: Mapped[str | None] = mapped_column(
        CATALOGUE.column_type("customer_documents", "document_number", sa.Text())
    )
    number_index: Mapped[str | None] = mapped_column(sa.String(64))
    # Key that sealed the number; rotation re-encrypts rows not under the active key.
    key_id: Mapped[str] = mapped_column(sa.String(32), index=True)
    issuer: Mapped[str] = mapped_column(sa.String(64))
    issued_on: Mapped[date | None] = mapped_column(sa.Date())
    expires_on: Mapped[date] = mapped_column(sa.Date())
    # The last status announced by `customer.document_expiring`: each is announced once.
    last_announced_status: Mapped[str | None] = mapped_column(sa.String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Relationship(Base):
    """One row per link, read from both ends: `related_customer_id` is `customer_id`'s `type`
    (e.g. their spouse, their guarantor). `link_key` names the link the same way whichever end
    recorded it, so a duplicate is refused by the database even under concurrent requests."""

    __tablename__ = "customer_relationships"

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    customer_id: Mapped[str] = mapped_column(sa.ForeignKey("customers.id"), index=True)
    related_customer_id: Mapped[str] = mapped_column(sa.ForeignKey("customers.id"), index=True)
    type: Mapped[str] = mapped_column(sa.String(32))
    since: Mapped[date | None] = mapped_column(sa.Date())
    link_key: Mapped[str] = mapped_column(sa.String(120), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


# --- Schemas ------------------------------------------------------------------------------


class DocumentType(StrEnum):
    NATIONAL_ID_CARD = "national_id_card"
    PASSPORT = "passport"
    RESIDENCE_PERMIT = "residence_permit"
    BUSINESS_LICENSE = "business_license"
    OTHER = "other"


DocumentStatus = Literal["valid", "expiring", "expired"]


def _not_in_future(value: date) -> date:
    if value > now().date():
        raise ValueError("issue date cannot be in the future")
    return value


DocumentNumber = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9A-Za-z-]{4,64}$")]
Issuer = Annotated[
    str, StringConstraints(strip_whitespace=True, to_upper=True, pattern=r"^[0-9A-Za-z][0-9A-Za-z ._/-]{1,63}$")
]


class DocumentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: DocumentType
    document_number: DocumentNumber = Field(description="Letters, digits and '-'; encrypted at rest.")
    issuer: Issuer = Field(description="Issuing country or authority code, e.g. CN or CN-PSB-110000.")
    issued_on: Annotated[IsoDate, AfterValidator(_not_in_future)] | None = None
    expires_on: IsoDate

    @model_validator(mode="after")
    def _issued_before_expiry(self):
        if self.issued_on is not None and self.issued_on > self.expires_on:
            raise ValueError("issued_on must not be after expires_on")
        return self


class DocumentSummary(BaseModel):
    """A document without its number: enough to follow up, nothing more (minimum necessary)."""

    id: str
    customer_id: str
    type: DocumentType
    issuer: str
    issued_on: date | None
    expires_on: date
    status: DocumentStatus = Field(description="`expiring`: within the notice period of its expiry date.")
    created_at: datetime


class DocumentOut(DocumentSummary):
    document_number: str


class ExpiringPage(BaseModel):
    items: list[DocumentSummary]
    next_cursor: str | None = Field(description="Pass as `after` for the next page; null at the end.")


class LinkType(StrEnum):
    SPOUSE = "spouse"
    HOUSEHOLD_MEMBER = "household_member"
    GUARANTOR = "guarantor"
    COMPANY_DIRECTOR = "company_director"
    PARENT = "parent"
    CHILD = "child"
    OTHER = "other"


# Read the same from both ends; parent and child read as each other from the other end.
SYMMETRIC = {LinkType.SPOUSE, LinkType.HOUSEHOLD_MEMBER, LinkType.OTHER}
INVERSE = {LinkType.PARENT: LinkType.CHILD, LinkType.CHILD: LinkType.PARENT}


class LinkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    related_customer_id: IdField
    type: LinkType = Field(description="What the related customer is to this one, e.g. their guarantor.")
    since: date | None = None


class RelatedCustomer(BaseModel):
    """Name, tier and stage are null when the caller may not see that customer."""

    id: str
    name: str | None
    tier: Tier | None
    lifecycle_stage: Stage | None


class LinkOut(BaseModel):
    id: str
    type: LinkType
    direction: Literal["outgoing", "incoming"] = Field(
        description="`outgoing`: the related customer is this customer's `type` (their spouse, their "
        "guarantor); `incoming`: this customer is the related customer's `type` (e.g. its company director)."
    )
    related_customer: RelatedCustomer
    since: date | None
    created_at: datetime


# --- Documents ----------------------------------------------------------------------------


def notice_days(settings: ProfileSettings) -> int:
    return settings.document_expiry_notice_days


def status_of(expires_on: date, *, today: date, notice: int) -> DocumentStatus:
    """Valid through its expiry date; `expiring` from `notice` days before it."""
    if expires_on < today:
        return "expired"
    return "expiring" if expires_on <= today + timedelta(days=notice) else "valid"


SummaryT = TypeVar("SummaryT", bound=DocumentSummary)


def _out(document: Document, model: type[SummaryT], settings: ProfileSettings) -> SummaryT:
    fields = {name: getattr(document, name) for name in model.model_fields if name != "status"}
    return model(**fields, status=status_of(document.expires_on, today=now().date(), notice=notice_days(settings)))


async def add_document(
    session: AsyncSession, customer: Customer, body: DocumentIn, actor: Actor, settings: ProfileSettings
) -> DocumentOut:
    keys = crypto.keyring()
    duplicate = Conflict("This document is already on record; a document belongs to one customer only.")
    # The unique constraint compares current hashes only; while the blind-index key is rotated, a
    # row not yet re-indexed holds the number's hash under the previous key.
    if previous := keys.previous_blind_indexes(body.document_number, field="document_number"):
        same = sa.select(Document.id).where(
            Document.type == body.type, Document.issuer == body.issuer, Document.number_index.in_(previous)
        )
        if await session.scalar(same.limit(1)) is not None:
            raise duplicate
    document = Document(
        id=str(uuid.uuid4()),
        customer_id=customer.id,
        number_index=keys.blind_index(body.document_number, field="document_number"),
        key_id=keys.active_key_id,
        created_at=now(),
        **body.model_dump(),
    )
    session.add(document)
    try:
        await session.flush()
    except IntegrityError:
        raise duplicate from None
    await audit.record(
        session,
        actor=actor.id,
        role=actor.role,
        action="document_add",
        customer_id=customer.id,
        fields=actor.released_in_clear(DOCUMENT_FIELDS),
        reason=actor.reason,
    )
    return _out(document, DocumentOut, settings)


async def list_documents(
    session: AsyncSession, customer: Customer, actor: Actor, settings: ProfileSettings
) -> list[DocumentOut]:
    found = await session.scalars(
        sa.select(Document).where(Document.customer_id == customer.id).order_by(Document.expires_on, Document.id)
    )
    await audit.record(
        session,
        actor=actor.id,
        role=actor.role,
        action="document_list",
        customer_id=customer.id,
        fields=actor.released_in_clear(DOCUMENT_FIELDS),
        reason=actor.reason,
    )
    return [_out(document, DocumentOut, settings) for document in found]


BY_EXPIRY = Keyset(Document.expires_on, Document.id)


async def needing_follow_up(
    session: AsyncSession,
    actor: Actor,
    settings: ProfileSettings,
    *,
    within_days: int,
    manager: str | None = None,
    after: str | None = None,
    limit: int = 50,
) -> ExpiringPage:
    """Documents expired or expiring within `within_days`, soonest first, across customers (of
    `manager` only, when given); keyset-paginated on (expires_on, id)."""
    d = Document
    query = (
        sa.select(d)
        .options(defer(d.document_number, raiseload=True))  # not listed here: never even decrypted
        .join(Customer, Customer.id == d.customer_id)
        .where(Customer.erased_at.is_(None), d.expires_on <= now().date() + timedelta(days=within_days))
    )
    if manager is not None:
        query = query.where(Customer.relationship_manager_id == manager)
    page, next_cursor = BY_EXPIRY.page(list(await session.scalars(BY_EXPIRY.apply(query, after, limit))), limit)
    await audit.record_many(
        session,
        actor=actor.id,
        role=actor.role,
        action="document_follow_up_list",
        customer_ids=list(dict.fromkeys(doc.customer_id for doc in page)),
        fields=SUMMARY_FIELDS,
        reason=actor.reason,
    )
    return ExpiringPage(
        items=[_out(document, DocumentSummary, settings) for document in page],
        next_cursor=next_cursor,
    )


JOB_ACTOR = "job:flag-expiring-documents"


async def flag_expiring_documents(
    sessions: async_sessionmaker[AsyncSession], *, notice: int, batch_size: int = 100
) -> int:
    """Announce each document that entered `expiring` or `expired` once per status: the event and
    the record that it was announced commit together. Replicas skip rows another one has locked
    (PostgreSQL); the conditional update keeps SQLite, which has no row locks, just as safe."""
    today = now().date()
    d = Document
    query = (
        sa.select(d.id, d.customer_id, d.type, d.expires_on, d.last_announced_status)
        .join(Customer, Customer.id == d.customer_id)
        .where(Customer.erased_at.is_(None), d.expires_on <= today + timedelta(days=notice))
        .where(
            sa.or_(
                d.last_announced_status.is_(None), sa.and_(d.last_announced_status == "expiring", d.expires_on < today)
            )
        )
        .order_by(d.expires_on, d.id)
        .limit(batch_size)
        .with_for_update(of=d, skip_locked=True)
    )
    async with sessions() as session, session.begin():
        announced = []
        for row in (await session.execute(query)).all():
            status = status_of(row.expires_on, today=today, notice=notice)
            claim = (
                sa.update(d)
                .where(d.id == row.id, d.last_announced_status.is_not_distinct_from(row.last_announced_status))
                .values(last_announced_status=status)
                .execution_options(synchronize_session=False)
            )
            claimed = cast(CursorResult, await session.execute(claim))  # an UPDATE's result has a rowcount
            if claimed.rowcount != 1:
                continue  # another replica announced it meanwhile
            await outbox.emit(
                session,
                "customer.document_expiring",
                CustomerDocumentExpiringV1(
                    customer_id=row.customer_id,
                    document_id=row.id,
                    document_type=row.type,
                    expires_on=row.expires_on,
                    status=status,
                ),
            )
            announced.append(row.customer_id)
        await audit.record_many(
            session,
            actor=JOB_ACTOR,
            role="system",
            action="document_expiry_announced",
            customer_ids=announced,
            fields=SUMMARY_FIELDS,
        )
    return len(announced)


def flag_expiring_documents_job(settings: ProfileSettings) -> PeriodicJob:
    return PeriodicJob(
        name="flag-expiring-documents",
        every_seconds=300,
        run=partial(flag_expiring_documents, notice=notice_days(settings)),
    )


# --- Relationships ------------------------------------------------------------------------


def _link_key(customer_id: str, related_id: str, kind: LinkType) -> str:
    """The same key for both ways of recording one link ("B is A's child" = "A is B's parent")."""
    if kind in SYMMETRIC:
        customer_id, related_id = sorted((customer_id, related_id))
    elif kind is LinkType.CHILD:
        customer_id, related_id, kind = related_id, customer_id, LinkType.PARENT
    return f"{kind.value}:{customer_id}:{related_id}"


def _as_seen_from(link: Relationship, customer_id: str, related: Customer, shown: bool) -> LinkOut:
    """The link as the customer at one end reads it: what the other end is to them."""
    kind, direction = LinkType(link.type), "outgoing"
    if link.related_customer_id == customer_id and kind not in SYMMETRIC:
        kind, direction = (INVERSE[kind], "outgoing") if kind in INVERSE else (kind, "incoming")
    return LinkOut(
        id=link.id,
        type=kind,
        direction=direction,
        since=link.since,
        created_at=link.created_at,
        related_customer=RelatedCustomer(
            id=related.id,
            name=related.name if shown else None,
            tier=related.tier if shown else None,
            lifecycle_stage=related.lifecycle_stage if shown else None,
        ),
    )


async def add_link(session: AsyncSession, customer: Customer, related: Customer, body: LinkIn, actor: Actor) -> LinkOut:
    if related.id == customer.id:
        raise Problem("A customer cannot be linked to themselves.", status=422, title="Invalid request")
    link = Relationship(
        id=str(uuid.uuid4()),
        customer_id=customer.id,
        related_customer_id=related.id,
        type=body.type.value,
        since=body.since,
        link_key=_link_key(customer.id, related.id, body.type),
        created_at=now(),
    )
    session.add(link)
    try:
        await session.flush()
    except IntegrityError:
        raise Conflict("These customers are already linked this way (recorded from either side).") from None
    await audit.record_many(
        session,
        actor=actor.id,
        role=actor.role,
        action="relationship_add",
        customer_ids=[customer.id, related.id],
        fields=["relationships"],
        reason=actor.reason,
    )
    return _as_seen_from(link, customer.id, related, shown=True)


async def list_links(
    session: AsyncSession, customer: Customer, actor: Actor, *, may_see: Callable[[Customer], bool]
) -> list[LinkOut]:
    """The customer's links from either end; `may_see` says whose details the caller may read."""
    r = Relationship
    other_end = sa.case((r.customer_id == customer.id, r.related_customer_id), else_=r.customer_id)
    rows = (
        await session.execute(
            sa.select(r, Customer)
            .join(Customer, Customer.id == other_end)
            # Only what a link shows (and who manages the customer): their identifiers are never decrypted.
            .options(
                load_only(
                    Customer.name,
                    Customer.tier,
                    Customer.lifecycle_stage,
                    Customer.relationship_manager_id,
                    raiseload=True,
                )
            )
            .where(sa.or_(r.customer_id == customer.id, r.related_customer_id == customer.id))
            .order_by(r.created_at, r.id)
        )
    ).all()
    shown = {related.id for _, related in rows if may_see(related)}
    await audit.record(
        session,
        actor=actor.id,
        role=actor.role,
        action="relationship_list",
        customer_id=customer.id,
        fields=["relationships"],
        reason=actor.reason,
    )
    await audit.record_many(
        session,
        actor=actor.id,
        role=actor.role,
        action="relationship_list_related",
        customer_ids=sorted(shown),
        fields=RELATED_FIELDS,
        reason=actor.reason,
    )
    return [_as_seen_from(link, customer.id, related, shown=related.id in shown) for link, related in rows]


async def remove_link(session: AsyncSession, customer: Customer, link_id: str, actor: Actor) -> None:
    r = Relationship
    link = await session.scalar(
        sa.select(r).where(r.id == link_id, sa.or_(r.customer_id == customer.id, r.related_customer_id == customer.id))
    )
    if link is None:
        raise NotFound("This customer has no relationship with this id.")
    await session.delete(link)
    await audit.record_many(
        session,
        actor=actor.id,
        role=actor.role,
        action="relationship_delete",
        customer_ids=[link.customer_id, link.related_customer_id],
        fields=["relationships"],
        reason=actor.reason,
    )


# --- Erasure ------------------------------------------------------------------------------


async def erase_documents_and_links(session: AsyncSession, customer_id: str) -> None:
    """For `service.erase` (R2.2): destroy the customer's document numbers (and their blind
    indexes), keep type and dates as aggregates; remove every link to or from the customer."""
    await session.execute(
        sa.update(Document)
        .where(Document.customer_id == customer_id)
        .values(**CATALOGUE.erased_values("customer_documents"))
        .execution_options(synchronize_session="fetch")
    )
    await session.execute(
        sa.delete(Relationship)
        .where(sa.or_(Relationship.customer_id == customer_id, Relationship.related_customer_id == customer_id))
        .execution_options(synchronize_session="fetch")
    )
