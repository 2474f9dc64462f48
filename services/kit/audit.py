"""Append-only, hash-chained audit trail of access to customer data (R2.3).

Writers only insert rows (`record`), concurrently, inside the transaction of the access they
describe. A sealer (one active per database) then links committed rows into the chain in
order: each sealed row gets the next chain position, the previous row's hash and its own hash,
SHA-256 over its content and the previous hash. `verify` walks the chain: an edited row no
longer matches its hash, a removed row leaves a gap in the positions and a broken link.
Sealing after commit, rather than while writing, keeps concurrent requests from queueing on
one lock. Rows hold names of fields, never their values.
"""

import asyncio
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
import structlog
from fastapi import APIRouter, Query
from prometheus_client import Counter, Gauge
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from events.tracing import current_trace_id
from services.kit.clock import now
from services.kit.db import SessionDep, UTCDateTime

log = structlog.get_logger(__name__)
GENESIS = "0" * 64

AUDIT_VERIFICATION_FAILURES = Counter(
    "crm_audit_chain_verification_failures_total", "Scheduled audit-chain checks that found a broken chain", ["component"]
)
AUDIT_VERIFIED_AT = Gauge(
    "crm_audit_chain_verified_timestamp_seconds", "When the audit chain was last found intact", ["component"]
)
_position = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _columns() -> list[sa.Column]:
    return [
        sa.Column("id", _position, primary_key=True, autoincrement=True),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("role", sa.String(64), nullable=False),
        sa.Column("action", sa.String(200), nullable=False),
        sa.Column("customer_id", sa.String(64), nullable=True),
        sa.Column("fields", sa.String(1000), nullable=False),
        sa.Column("reason", sa.String(500), nullable=True),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("request_id", sa.String(128), nullable=True),
        sa.Column("chain_position", _position, nullable=True, unique=True),
        sa.Column("prev_hash", sa.String(64), nullable=True),
        sa.Column("hash", sa.String(64), nullable=True),
    ]


def create_audit_table(op) -> None:
    """For a component's migration: the audit table and its indexes."""
    op.create_table("audit_log", *_columns())
    op.create_index("ix_audit_log_customer_id", "audit_log", ["customer_id", "at"])
    op.create_index("ix_audit_log_actor", "audit_log", ["actor", "at"])
    op.create_index("ix_audit_log_unsealed", "audit_log", ["id"], sqlite_where=sa.text("hash IS NULL"),
                    postgresql_where=sa.text("hash IS NULL"))
    if op.get_bind().dialect.name == "postgresql":
        # Append-only: no deletes; an update may only seal an unsealed row (the sealer's job).
        op.execute(_APPEND_ONLY_FUNCTION)
        op.execute(
            "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
            "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"
        )


def drop_audit_table(op) -> None:
    op.drop_table("audit_log")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")


_APPEND_ONLY_FUNCTION = """
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' OR OLD.hash IS NOT NULL
     OR (NEW.at, NEW.actor, NEW.role, NEW.action, NEW.customer_id, NEW.fields, NEW.reason, NEW.outcome,
         NEW.request_id)
        IS DISTINCT FROM
        (OLD.at, OLD.actor, OLD.role, OLD.action, OLD.customer_id, OLD.fields, OLD.reason, OLD.outcome,
         OLD.request_id) THEN
    RAISE EXCEPTION 'audit_log is append-only';
  END IF;
  RETURN NEW;
END $$
"""


def _canonical_time(value: datetime) -> str:
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _digest(row, position: int, prev_hash: str) -> str:
    content = [
        position, _canonical_time(row.at), row.actor, row.role, row.action, row.customer_id,
        row.fields, row.reason, row.outcome, row.request_id, prev_hash,
    ]
    return hashlib.sha256(json.dumps(content, separators=(",", ":")).encode()).hexdigest()


@dataclass
class Verification:
    sealed: int
    unsealed: int
    broken_at: int | None = None
    problem: str | None = None

    @property
    def intact(self) -> bool:
        return self.broken_at is None


class AuditTrail:
    def __init__(self, metadata: sa.MetaData):
        self.table = sa.Table("audit_log", metadata, *_columns())
        self._wake = asyncio.Event()

    async def record(
        self,
        session: AsyncSession | AsyncConnection,
        *,
        actor: str,
        role: str,
        action: str,
        customer_id: str | None,
        fields: set[str] | list[str] = (),
        reason: str | None = None,
        outcome: str = "ok",
    ) -> None:
        await self.record_many(session, actor=actor, role=role, action=action, customer_ids=[customer_id],
                               fields=fields, reason=reason, outcome=outcome)

    async def record_many(
        self,
        session: AsyncSession | AsyncConnection,
        *,
        actor: str,
        role: str,
        action: str,
        customer_ids: list[str | None],
        fields: set[str] | list[str] = (),
        reason: str | None = None,
        outcome: str = "ok",
    ) -> None:
        """One row per customer for the same access (lists, bulk imports), in one round trip."""
        if not customer_ids:
            return
        common = {
            "at": now(),
            "actor": actor[:128],
            "role": role[:64],
            "action": action[:200],
            "fields": ",".join(sorted(fields)),
            "reason": reason[:500] if reason else None,
            "outcome": outcome,
            "request_id": current_trace_id.get(),
        }
        await session.execute(self.table.insert(), [{**common, "customer_id": c} for c in customer_ids])
        self._wake.set()

    async def seal_pending(self, engine: AsyncEngine, batch_size: int = 1000) -> int:
        t = self.table
        async with engine.begin() as connection:
            if engine.dialect.name == "postgresql":
                if not await connection.scalar(sa.text("SELECT pg_try_advisory_xact_lock(hashtext('audit_sealer'))")):
                    return 0
            head = (
                await connection.execute(
                    sa.select(t.c.chain_position, t.c.hash)
                    .where(t.c.chain_position.is_not(None))
                    .order_by(t.c.chain_position.desc())
                    .limit(1)
                )
            ).first()
            position, prev_hash = (head.chain_position, head.hash) if head else (0, GENESIS)
            pending = (
                await connection.execute(sa.select(t).where(t.c.hash.is_(None)).order_by(t.c.id).limit(batch_size))
            ).all()
            for row in pending:
                position += 1
                digest = _digest(row, position, prev_hash)
                await connection.execute(
                    t.update().where(t.c.id == row.id).values(chain_position=position, prev_hash=prev_hash, hash=digest)
                )
                prev_hash = digest
            return len(pending)

    async def run_sealer(self, engine: AsyncEngine, interval: float = 0.5) -> None:
        while True:
            try:
                if await self.seal_pending(engine):
                    continue
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # database away: seal later
                log.warning("audit_sealer_retry", error_type=type(exc).__name__)
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=interval)
            except TimeoutError:
                pass

    async def run_verifier(self, engine: AsyncEngine, component: str, interval: float) -> None:
        """Verify the chain every `interval` seconds; a broken chain counts as a failure (alerted)."""
        while True:
            try:
                result = await self.verify(engine)
                if result.intact:
                    AUDIT_VERIFIED_AT.labels(component).set_to_current_time()
                else:
                    AUDIT_VERIFICATION_FAILURES.labels(component).inc()
                    log.error("audit_chain_broken", component=component, position=result.broken_at, problem=result.problem)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # database away: the timestamp goes stale, which is alerted too
                log.warning("audit_verifier_retry", error_type=type(exc).__name__)
            await asyncio.sleep(interval)

    async def verify(self, engine: AsyncEngine, batch_size: int = 5000) -> Verification:
        t = self.table
        expected_position, prev_hash, sealed = 1, GENESIS, 0
        async with engine.connect() as connection:
            unsealed = await connection.scalar(sa.select(sa.func.count()).select_from(t).where(t.c.hash.is_(None)))
            after = 0
            while True:
                rows = (
                    await connection.execute(
                        sa.select(t)
                        .where(t.c.chain_position > after)
                        .order_by(t.c.chain_position)
                        .limit(batch_size)
                    )
                ).all()
                if not rows:
                    return Verification(sealed=sealed, unsealed=unsealed)
                for row in rows:
                    if row.chain_position != expected_position:
                        return Verification(sealed, unsealed, expected_position, "record missing from the chain")
                    if row.prev_hash != prev_hash:
                        return Verification(sealed, unsealed, row.chain_position, "link to the previous record broken")
                    if _digest(row, row.chain_position, row.prev_hash) != row.hash:
                        return Verification(sealed, unsealed, row.chain_position, "record content altered")
                    prev_hash, expected_position = row.hash, expected_position + 1
                    sealed += 1
                after = rows[-1].chain_position


class AuditRecordOut(BaseModel):
    id: int
    at: datetime
    actor: str
    role: str
    action: str
    customer_id: str | None
    fields: list[str]
    reason: str | None
    outcome: str
    request_id: str | None
    chain_position: int | None
    hash: str | None


class AuditPage(BaseModel):
    items: list[AuditRecordOut]
    next_cursor: int | None = Field(description="Pass as `after` for the next page; null at the end.")


def audit_router(trail: AuditTrail) -> APIRouter:
    """`GET /api/v1/audit-records`: the trail by customer, actor and time (for compliance officers)."""
    router = APIRouter(prefix="/api/v1/audit-records", tags=["audit"])

    @router.get("", response_model=AuditPage)
    async def audit_records(
        session: SessionDep,
        customer_id: str | None = None,
        actor: str | None = None,
        since: datetime | None = Query(None, description="Inclusive, ISO 8601 with time zone."),
        until: datetime | None = Query(None, description="Exclusive, ISO 8601 with time zone."),
        after: int | None = Query(None, description="Cursor from the previous page."),
        limit: int = Query(100, ge=1, le=1000),
    ) -> AuditPage:
        t = trail.table
        query = sa.select(t).order_by(t.c.id).limit(limit + 1)
        for column, value in ((t.c.customer_id, customer_id), (t.c.actor, actor)):
            if value is not None:
                query = query.where(column == value)
        if since is not None:
            query = query.where(t.c.at >= since)
        if until is not None:
            query = query.where(t.c.at < until)
        if after is not None:
            query = query.where(t.c.id > after)
        rows = (await session.execute(query)).all()
        page = rows[:limit]
        items = [
            AuditRecordOut(**{**row._mapping, "fields": [f for f in row.fields.split(",") if f],
                              "at": row.at if row.at.tzinfo else row.at.replace(tzinfo=UTC)})
            for row in page
        ]
        return AuditPage(items=items, next_cursor=page[-1].id if len(rows) > limit else None)

    return router
