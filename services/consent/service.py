"""The consent domain: grants, the bank's requests with maker-checker approval, revocation,
expiry, erasure, and decisions on whether a share is allowed.

Each state change runs inside the caller's transaction and writes three things with it: the
status on the consent, a `consent_history` row (so decisions can be answered as of any time),
and a hash-chained audit record (proof of who did what, when). Its event goes to the outbox in
the same transaction, so all of it commits or none of it does.
"""

import hashlib
import hmac
import json
import uuid
from collections.abc import AsyncIterator, Sequence
from collections.abc import Set as AbstractSet
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm.attributes import set_committed_value

from events.contracts import (
    ConsentDecidedV1,
    ConsentExpiredV1,
    ConsentGrantedV1,
    ConsentRequestedV1,
    ConsentRevokedV1,
    topics,
)
from events.contracts.terms import ConsentHistoryStatus, ConsentStatus
from events.follower import FollowedCache
from services.consent.declarations import CATALOGUE
from services.consent.models import Consent, ConsentChange, audit, known_customers, outbox
from services.consent.schemas import ConsentGrant, DecisionOut, DecisionReason, DecisionRequest
from services.consent.settings import ConsentSettings
from services.kit.batching import Coalescer
from services.kit.catalogue import Erasure
from services.kit.clock import now
from services.kit.db import BareConnections, insert_many
from services.kit.identity import Actor
from services.kit.observability import CONSENT_DECISION_READS
from services.kit.problems import Conflict, Forbidden, NotFound

EXPIRY = Actor("consent:expire-consents", "system", None, None)
# Columns the catalogue says erasure pseudonymises: the subject, and the actors (who may be the
# customer, having granted or revoked the consent themselves).
_PSEUDONYMISED = {
    table: [f.name for f in CATALOGUE.fields(table) if f.erasure is Erasure.PSEUDONYMISE and f.name != "customer_id"]
    for table in ("consents", "consent_history")
}


async def get(session: AsyncSession, consent_id: str, *, scope: str | None, for_update: bool = False) -> Consent:
    consent = await session.get(Consent, consent_id, with_for_update=for_update)
    # A customer asking about another customer's consent learns nothing, not even that it exists.
    if consent is None or (scope is not None and consent.customer_id != scope):
        raise NotFound("No consent has this id.")
    return consent


async def _move(
    session: AsyncSession,
    consent: Consent,
    to: ConsentHistoryStatus,
    actor: Actor,
    *,
    at: datetime,
    reason: str | None = None,
) -> None:
    """Change the consent's status, with its history row and its audit record."""
    session.add(ConsentChange(**_change(consent, to, actor, at=at, reason=reason)))
    consent.status = to
    await audit.insert_rows(session, [_record(consent, to, actor, reason=reason)])


def _change(
    consent: Consent, to: ConsentHistoryStatus, actor: Actor, *, at: datetime, reason: str | None
) -> dict[str, Any]:
    """The history row of a move of `consent` (from its status now) to `to`."""
    return {
        "consent_id": consent.id,
        "customer_id": consent.customer_id,
        "from_status": consent.status,
        "to_status": to,
        "at": at,
        "actor": actor.id,
        "reason": reason,
    }


def _record(consent: Consent, to: ConsentHistoryStatus, actor: Actor, *, reason: str | None) -> dict:
    """The audit row of that move."""
    # Becoming active is a grant, whether the customer gave it or an approval made it so.
    action = "consent.granted" if to == ConsentHistoryStatus.ACTIVE else f"consent.{to}"
    return audit.row(
        actor=actor.id,
        role=actor.role,
        action=action,
        customer_id=consent.customer_id,
        fields=[f"consent:{consent.id}", *consent.data_categories],
        reason=reason or actor.reason,
    )


def _new(body: ConsentGrant, moment: datetime) -> Consent:
    fields = body.model_dump()
    notice = fields["notice_text"]
    return Consent(
        id=str(uuid.uuid4()),
        created_at=moment,
        notice_text_sha256=hashlib.sha256(notice.encode()).hexdigest() if notice is not None else None,
        **fields,
    )


def _granted(consent: Consent) -> ConsentGrantedV1:
    return ConsentGrantedV1(
        consent_id=consent.id,
        customer_id=consent.customer_id,
        recipient=consent.recipient,
        purpose=consent.purpose,
        data_categories=consent.data_categories,
        expires_at=consent.expires_at,
    )


def _decided(consent: Consent) -> ConsentDecidedV1:
    return ConsentDecidedV1(
        consent_id=consent.id,
        customer_id=consent.customer_id,
        recipient=consent.recipient,
        purpose=consent.purpose,
        data_categories=consent.data_categories,
        decided_by=consent.decided_by,
        expires_at=consent.expires_at,
    )


async def grant(session: AsyncSession, body: ConsentGrant, *, actor: Actor, settings: ConsentSettings) -> Consent:
    """The customer's own consent, in a customer channel: active at once. Staff never grant
    directly: they request (maker) and another person approves (checker)."""
    if actor.role not in settings.self_service_roles or actor.customer_scope != body.customer_id:
        raise Forbidden(
            "Only the customer gives a consent directly; staff ask for one through "
            "POST /api/v1/consent-requests, and another person approves it."
        )
    if body.channel not in settings.customer_channels:
        raise Forbidden(
            f"A customer gives a consent through: {', '.join(settings.customer_channels)}; "
            "consents taken in a branch or by phone go through a consent request."
        )
    if body.legal_basis != "consent":
        raise Forbidden(
            "A customer's own grant rests on their consent; another legal basis is recorded "
            "by staff through a consent request."
        )
    await known_customers.require(session, body.customer_id)
    moment = now()
    consent = _new(body, moment)
    consent.granted_at, consent.granted_by = moment, actor.id
    session.add(consent)
    await _move(session, consent, ConsentHistoryStatus.ACTIVE, actor, at=moment)
    await outbox.emit(session, "consent.granted", _granted(consent))
    return consent


async def request(session: AsyncSession, body: ConsentGrant, *, actor: Actor, settings: ConsentSettings) -> Consent:
    """Sharing the bank initiates (maker): inactive until a compliance officer approves it."""
    if actor.role not in settings.requester_roles:
        raise Forbidden(f"Only these roles may request a consent: {', '.join(settings.requester_roles)}.")
    await known_customers.require(session, body.customer_id)
    moment = now()
    consent = _new(body, moment)
    consent.requested_at, consent.requested_by = moment, actor.id
    session.add(consent)
    await _move(session, consent, ConsentHistoryStatus.REQUESTED, actor, at=moment)
    await outbox.emit(
        session,
        "consent.requested",
        ConsentRequestedV1(
            consent_id=consent.id,
            customer_id=consent.customer_id,
            recipient=consent.recipient,
            purpose=consent.purpose,
            data_categories=consent.data_categories,
            requested_by=actor.id,
        ),
    )
    return consent


async def _requested_for_decision(
    session: AsyncSession, consent_id: str, *, actor: Actor, settings: ConsentSettings
) -> Consent:
    """The checker's side of maker-checker: an approver who is not the requester, deciding once."""
    if actor.role not in settings.approver_roles:
        raise Forbidden(f"Only these roles may approve or reject a consent: {', '.join(settings.approver_roles)}.")
    consent = await get(session, consent_id, scope=None, for_update=True)
    if consent.requested_by is not None and consent.requested_by == actor.id:
        raise Forbidden(
            "You requested this consent, so you cannot approve or reject it (four-eyes principle); "
            "another compliance officer must decide."
        )
    if consent.status != ConsentStatus.REQUESTED:
        raise Conflict(
            f"The consent is {consent.current_status}; only a requested consent can be approved or rejected."
        )
    return consent


async def approve(
    session: AsyncSession, consent_id: str, *, actor: Actor, settings: ConsentSettings, reason: str | None = None
) -> Consent:
    consent = await _requested_for_decision(session, consent_id, actor=actor, settings=settings)
    moment = now()
    if consent.expires_at is not None and consent.expires_at <= moment:
        raise Conflict("The requested expiry has already passed; reject this request and ask for a new consent.")
    consent.decided_at = consent.granted_at = moment
    consent.decided_by = consent.granted_by = actor.id
    await _move(session, consent, ConsentHistoryStatus.APPROVED, actor, at=moment, reason=reason)
    await _move(session, consent, ConsentHistoryStatus.ACTIVE, actor, at=moment, reason=reason)
    await outbox.emit(session, "consent.approved", _decided(consent))
    # Consumers that know only grants learn of it as one.
    await outbox.emit(session, "consent.granted", _granted(consent))
    return consent


async def reject(
    session: AsyncSession, consent_id: str, *, actor: Actor, settings: ConsentSettings, reason: str | None = None
) -> Consent:
    consent = await _requested_for_decision(session, consent_id, actor=actor, settings=settings)
    consent.decided_at, consent.decided_by = now(), actor.id
    await _move(session, consent, ConsentHistoryStatus.REJECTED, actor, at=consent.decided_at, reason=reason)
    await outbox.emit(session, "consent.rejected", _decided(consent))
    return consent


async def _revoke(session: AsyncSession, consent: Consent, *, actor: Actor, reason: str | None) -> None:
    consent.revoked_at, consent.revoked_by = now(), actor.id
    await _move(session, consent, ConsentHistoryStatus.REVOKED, actor, at=consent.revoked_at, reason=reason)
    await outbox.emit(
        session,
        "consent.revoked",
        ConsentRevokedV1(
            consent_id=consent.id,
            customer_id=consent.customer_id,
            recipient=consent.recipient,
            purpose=consent.purpose,
            revoked_at=consent.revoked_at,
        ),
    )


async def revoke(session: AsyncSession, consent_id: str, *, actor: Actor) -> Consent:
    # The row stays locked until commit: of two concurrent revocations, the second sees the first.
    consent = await get(session, consent_id, scope=actor.customer_scope, for_update=True)
    status = consent.current_status
    if status == ConsentStatus.REVOKED:
        assert consent.revoked_at is not None  # _revoke sets it with the status
        raise Conflict(f"The consent was already revoked at {consent.revoked_at.isoformat()}; nothing to do.")
    if status == ConsentStatus.EXPIRED:
        raise Conflict("The consent has expired and allows nothing any more; there is nothing to revoke.")
    if status != ConsentStatus.ACTIVE:
        raise Conflict(f"The consent is {status}, not active; only a compliance officer's decision changes it.")
    await _revoke(session, consent, actor=actor, reason=actor.reason)
    return consent


async def _expire(session: AsyncSession, consents: Sequence[Consent], *, actor: Actor) -> None:
    """Active consents past their expiry, marked expired in a few statements however many: one
    UPDATE (the consent counts' trigger runs once), their history rows, audit rows and
    `consent.expired` events. Each is recorded at the moment it lapsed, not when the job noticed,
    so as-of answers are exact."""
    if not consents:
        return
    reason = "expiry reached"
    changes, records = [], []
    for consent in consents:
        assert consent.expires_at is not None  # only consents with an expiry lapse
        changes.append(_change(consent, ConsentHistoryStatus.EXPIRED, actor, at=consent.expires_at, reason=reason))
        records.append(_record(consent, ConsentHistoryStatus.EXPIRED, actor, reason=reason))
    await session.execute(
        sa.update(Consent)
        .where(Consent.id.in_([consent.id for consent in consents]))
        .values(status=ConsentHistoryStatus.EXPIRED)
        .execution_options(synchronize_session=False)
    )
    for consent in consents:  # as the UPDATE left them, without a second write
        set_committed_value(consent, "status", ConsentHistoryStatus.EXPIRED)
    await insert_many(session, ConsentChange.__table__, changes)
    await audit.insert_rows(session, records)
    await outbox.emit_many(
        session,
        [
            (
                "consent.expired",
                ConsentExpiredV1(
                    consent_id=consent.id,
                    customer_id=consent.customer_id,
                    recipient=consent.recipient,
                    purpose=consent.purpose,
                    expired_at=consent.expires_at,
                ),
            )
            for consent in consents
        ],
    )


async def expire_due(sessions: async_sessionmaker[AsyncSession], *, batch_size: int = 500) -> int:
    """The `expire-consents` job: mark active consents past their expiry as expired. Rows are
    locked, skipping those another replica (or a revocation) holds, so each expires once."""
    async with sessions() as session, session.begin():
        due = list(
            await session.scalars(
                sa.select(Consent)
                .where(Consent.status == ConsentStatus.ACTIVE, Consent.expires_at <= now())
                .order_by(Consent.expires_at)
                .limit(batch_size)
                .with_for_update(skip_locked=True)
            )
        )
        await _expire(session, due, actor=EXPIRY)
        return len(due)


def pseudonym(key: bytes, customer_id: str) -> str:
    """Stable for one key, so the erased customer's records still belong together."""
    return hmac.new(key, customer_id.encode(), hashlib.sha256).hexdigest()


async def erase_customer(session: AsyncSession, customer_id: str, *, pseudonym_id: str, actor: Actor) -> None:
    """Close the customer's consents, then replace their id with a pseudonym everywhere this
    service keeps it, except the audit trail, which cannot change. Purposes, categories, times,
    actors and notice hashes stay: they are the record the bank must keep."""
    consents = list(
        await session.scalars(
            sa.select(Consent).where(Consent.customer_id == customer_id).order_by(Consent.id).with_for_update()
        )
    )
    if not consents:
        return  # a customer who never consented to anything: nothing is kept about them here
    for consent in consents:
        if consent.status == ConsentStatus.ACTIVE and consent.current_status == ConsentStatus.EXPIRED:
            await _expire(session, [consent], actor=actor)
        elif consent.status in (ConsentStatus.ACTIVE, ConsentStatus.REQUESTED):
            await _revoke(session, consent, actor=actor, reason="customer erased")
    await session.flush()

    def replaced(column):
        return sa.case((column == customer_id, pseudonym_id), else_=column)

    await session.execute(
        sa.update(Consent)
        .where(Consent.customer_id == customer_id)
        .values(customer_id=pseudonym_id, **{c: replaced(getattr(Consent, c)) for c in _PSEUDONYMISED["consents"]})
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        sa.update(ConsentChange)
        .where(ConsentChange.customer_id == customer_id)
        .values(
            customer_id=pseudonym_id,
            **{c: replaced(getattr(ConsentChange, c)) for c in _PSEUDONYMISED["consent_history"]},
        )
        .execution_options(synchronize_session=False)
    )
    await audit.record(
        session,
        actor=actor.id,
        role=actor.role,
        action="consent.pseudonymised",
        customer_id=customer_id,
        fields=["customer_id"],
        reason="customer erased",
    )


async def history(session: AsyncSession, consent_id: str, *, scope: str | None) -> list[ConsentChange]:
    await get(session, consent_id, scope=scope)
    return list(
        await session.scalars(
            sa.select(ConsentChange).where(ConsentChange.consent_id == consent_id).order_by(ConsentChange.id)
        )
    )


async def for_customer(session: AsyncSession, customer_id: str) -> list[Consent]:
    """Newest first. A customer this service has never seen simply has none."""
    query = sa.select(Consent).where(Consent.customer_id == customer_id).order_by(Consent.created_at.desc(), Consent.id)
    return list(await session.scalars(query))


# When no consent permits, the reason given is that of the consent closest to permitting.
_CLOSENESS: list[DecisionReason] = [
    "active_consent",
    "categories_not_covered",
    "consent_expired",
    "consent_revoked",
    "consent_pending",
    "consent_rejected",
]
_REASON_OF_STATUS: dict[str, DecisionReason] = {
    ConsentHistoryStatus.EXPIRED: "consent_expired",
    ConsentHistoryStatus.REVOKED: "consent_revoked",
    ConsentHistoryStatus.REQUESTED: "consent_pending",
    ConsentHistoryStatus.APPROVED: "consent_pending",
    ConsentHistoryStatus.REJECTED: "consent_rejected",
}


def _reason(
    status: str,
    expires_at: datetime | None,
    categories: AbstractSet[str],
    wanted: AbstractSet[str],
    as_of: datetime,
) -> DecisionReason:
    if status == ConsentHistoryStatus.ACTIVE and expires_at is not None and expires_at <= as_of:
        status = ConsentHistoryStatus.EXPIRED  # lapsed, whether or not the expiry job has marked it yet
    if status == ConsentHistoryStatus.ACTIVE:
        return "active_consent" if wanted <= categories else "categories_not_covered"
    return _REASON_OF_STATUS[status]


# Every consent of the customer for the recipient (any purpose), newest first, with its whole
# history in order (when, to which status): what a decision at any later moment needs, so the
# rows can be kept (DecisionIndex) and answered from again. The categories come as JSON text,
# so the driver decodes only text, times and arrays.
_CONSENTS_OF_PAIR = """
SELECT c.customer_id, c.recipient, c.id, c.purpose, c.created_at, c.expires_at,
       c.data_categories::text AS categories,
       ARRAY(SELECT h.at FROM consent_history h WHERE h.consent_id = c.id ORDER BY h.at, h.id) AS changed_at,
       ARRAY(SELECT h.to_status FROM consent_history h WHERE h.consent_id = c.id ORDER BY h.at, h.id) AS statuses
FROM consents c WHERE c.customer_id = $1 AND c.recipient = $2
ORDER BY c.created_at DESC
"""


@dataclass(frozen=True, slots=True)
class ConsentSnapshot:
    """One consent as a decision reads it: its purpose, when it was made and lapses, what it
    covers, and every status it took, in order."""

    id: str
    purpose: str
    created_at: datetime
    expires_at: datetime | None
    categories: frozenset[str]
    history: tuple[tuple[datetime, str], ...]  # (at, to_status), oldest first

    @classmethod
    def of(cls, row) -> "ConsentSnapshot":
        return cls(
            id=row["id"],
            purpose=row["purpose"],
            created_at=row["created_at"],
            expires_at=row["expires_at"],
            categories=frozenset(json.loads(row["categories"])),
            history=tuple(zip(row["changed_at"], row["statuses"], strict=True)),
        )

    def status_at(self, as_of: datetime) -> str | None:
        """The status of the last change at or before `as_of` (None: it did not exist yet)."""
        status = None
        for at, to_status in self.history:
            if at > as_of:
                break
            status = to_status
        return status


def answer_from(asked: DecisionRequest, consents: Sequence[ConsentSnapshot], as_of: datetime) -> DecisionOut:
    """The decision on `asked` as of `as_of` from the pair's consents (newest first), by the same
    rule as the history path (`decide`). Built without re-validation: every value comes from
    this function or the request."""
    wanted = set(asked.data_categories)
    best = None  # (closeness, reason, id): the first of the closest, i.e. the newest
    for consent in consents:
        if consent.purpose != asked.purpose or (status := consent.status_at(as_of)) is None:
            continue
        reason = _reason(status, consent.expires_at, consent.categories, wanted, as_of)
        closeness = _CLOSENESS.index(reason)
        if best is None or closeness < best[0]:
            best = (closeness, reason, consent.id)
    if best is not None:
        _, reason, consent_id = best
        return DecisionOut.model_construct(
            decision="permit" if reason == "active_consent" else "deny",
            consent_id=consent_id,
            reason=reason,
            as_of=as_of,
        )
    other_purpose = any(consent.created_at <= as_of for consent in consents)
    return DecisionOut.model_construct(
        decision="deny",
        consent_id=None,
        reason="purpose_not_consented" if other_purpose else "no_consent",
        as_of=as_of,
    )


Pair = tuple[str, str]  # (customer, recipient)
_FROM_INDEX, _FROM_DATABASE = CONSENT_DECISION_READS.labels("index"), CONSENT_DECISION_READS.labels("database")


class DecisionIndex(FollowedCache[str, tuple[ConsentSnapshot, ...]]):
    """Each replica's own copy of the consents it decided on lately: customer -> recipient ->
    their consents, so that a decision asked again needs no round trip. Kept current by consent
    events: the replica's own changes drop what it holds of their customers as they commit
    (`Outbox.committed_listener`), every other replica's when their events arrive (`follower`,
    reading the consent topic whole). It is used only while the follower can show it has read
    every event published less than a second ago; otherwise every decision asks the database
    (fail closed, as the gateway's permit cache). So a change made on another replica reaches
    this one's decisions within its delivery time (commit -> effect in `make bench`); on the
    replica that made it, at once. Bounded: the least recently used customers go first, and
    each customer's consents are read again after `ttl_seconds` (changes that send no event,
    such as retention deleting long-ended consents, change a decision's reason only)."""

    # Recipients kept per customer; the least recently used go first.
    RECIPIENTS_PER_CUSTOMER = 64

    def __init__(self, bootstrap_servers, *, customers: int, ttl_seconds: float):
        super().__init__(
            bootstrap_servers,
            [topics.CONSENT],
            client_id="consent-decision-index",
            customers=customers,
            per_customer=self.RECIPIENTS_PER_CUSTOMER,
            ttl_seconds=ttl_seconds,
        )


class DecisionReader:
    """Decisions as of now, the hot path of every partner share: from the replica's
    `DecisionIndex` where it holds the pair's consents, else from PostgreSQL in one prepared
    statement on `in_flight` bare asyncpg connections, outside any transaction, no ORM; the
    pairs asked while a round trip is out go together in the next (services/kit/batching.py).
    Each answer reads the state after it was asked, by the same rule as the history path
    (`decide`), which still answers past `as_of` and the embedded database."""

    # A flood of asks goes in round trips of at most this many, so no one round trip (and no one
    # answer's wait) grows with the backlog.
    MOST_PER_ROUND_TRIP = 500

    def __init__(self, connections: BareConnections, in_flight: int, index: DecisionIndex | None = None):
        self.connections = connections
        self.index = index
        self.reads: Coalescer[Pair, tuple[ConsentSnapshot, ...]] = Coalescer(
            self.read_all, in_flight=in_flight, most=self.MOST_PER_ROUND_TRIP
        )

    @classmethod
    @asynccontextmanager
    async def open(
        cls, database_url: str, in_flight: int, index: DecisionIndex | None = None
    ) -> AsyncIterator["DecisionReader | None"]:
        # One read-only statement, no transaction, no session state: nothing to reset between
        # uses, so a bare stack of connections rather than asyncpg's pool (half the CPU per call).
        connections = BareConnections.for_url(database_url, in_flight)
        if connections is None:
            yield None
            return
        reader = cls(connections, in_flight, index)
        try:
            yield reader
        finally:
            await reader.reads.close()
            await connections.close()

    async def decide(self, asked: DecisionRequest) -> DecisionOut:
        customer_id, recipient = asked.customer_id, asked.recipient
        if self.index is not None and (consents := self.index.get(customer_id, recipient)) is not None:
            _FROM_INDEX.inc()
            return answer_from(asked, consents, now())
        _FROM_DATABASE.inc()
        as_of = now()
        epoch = self.index.epoch if self.index is not None else 0
        consents = await self.reads.ask((customer_id, recipient))
        if self.index is not None:
            self.index.keep(customer_id, recipient, consents, epoch)
        return answer_from(asked, consents, as_of)

    async def read_all(self, pairs: Sequence[Pair]) -> list[tuple[ConsentSnapshot, ...]]:
        if len(pairs) == 1:
            rows = await self.connections.fetch(_CONSENTS_OF_PAIR, *pairs[0])
            return [tuple(ConsentSnapshot.of(row) for row in rows)]
        # The statement once per pair asked, pipelined in one round trip. One statement over
        # arrays of them (`= ANY($1)`) cost the server more per decision than this (at five asks
        # a trip: 47-60 against 17-23 us of its CPU, and twice the wait).
        distinct = list(dict.fromkeys(pairs))
        rows = await self.connections.fetch_each(_CONSENTS_OF_PAIR, distinct)
        consents: dict[Pair, list[ConsentSnapshot]] = {}  # newest first, as the statement orders them
        for row in rows:
            consents.setdefault((row["customer_id"], row["recipient"]), []).append(ConsentSnapshot.of(row))
        return [tuple(consents.get(pair, ())) for pair in pairs]


async def decide(session: AsyncSession, asked: DecisionRequest) -> DecisionOut:
    """Permit iff a consent for this customer, recipient and purpose was active and unexpired at
    `as_of` and covers every requested category. The status at `as_of` comes from the history,
    so past answers stay right after later revocations. One indexed query; a second on denial
    only, to tell a wrong purpose from no consent at all."""
    as_of = asked.as_of.astimezone(UTC) if asked.as_of is not None else now()
    status_then = (
        sa.select(ConsentChange.to_status)
        .where(ConsentChange.consent_id == Consent.id, ConsentChange.at <= as_of)
        .order_by(ConsentChange.at.desc(), ConsentChange.id.desc())
        .limit(1)
        .correlate(Consent)
        .scalar_subquery()
    )
    rows = (
        await session.execute(
            sa.select(
                Consent.id, Consent.data_categories, Consent.expires_at, Consent.created_at, status_then.label("status")
            ).where(
                Consent.customer_id == asked.customer_id,
                Consent.recipient == asked.recipient,
                Consent.purpose == asked.purpose,
            )
        )
    ).all()
    wanted = set(asked.data_categories)
    candidates = [
        (_reason(row.status, row.expires_at, set(row.data_categories), wanted, as_of), row)
        for row in rows
        if row.status is not None  # None: the consent did not exist yet at `as_of`
    ]
    if candidates:
        reason, row = min(candidates, key=lambda c: (_CLOSENESS.index(c[0]), -c[1].created_at.timestamp()))
        decision = "permit" if reason == "active_consent" else "deny"
        return DecisionOut(decision=decision, consent_id=row.id, reason=reason, as_of=as_of)
    other_purpose = await session.scalar(
        sa.select(Consent.id)
        .where(
            Consent.customer_id == asked.customer_id, Consent.recipient == asked.recipient, Consent.created_at <= as_of
        )
        .limit(1)
    )
    reason = "purpose_not_consented" if other_purpose is not None else "no_consent"
    return DecisionOut(decision="deny", consent_id=None, reason=reason, as_of=as_of)
