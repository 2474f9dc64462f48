"""Append-only, keyed hash-chained audit trail of access to customer data (R2.3), anchored
outside its database.

Writers only insert rows (`record`, or `audited_select`: the read and its audit row in one
statement), concurrently, inside the transaction (or the single statement) of the access they
describe: no record, no answer. A sealer (one active per database, by an advisory lock) then
links committed rows into the chain in batches, debounced and off the request path: each
sealed row gets the next chain position, the previous row's hash and its own hash, an
HMAC-SHA256 under the component's audit key over its content and the previous hash. Without
the key nobody can recompute the chain after an edit.

Anchor: periodically the sealer publishes a signed checkpoint of the chain head (position,
hash) to the append-only topic `crm.audit-checkpoints`, keyed by the chain's identity
(component and database, from configuration). `verify` walks the chain and checks it against
every checkpoint: an edited row no longer matches its hash, a removed row leaves a gap, removing
the newest rows leaves a checkpoint beyond the chain's end, and a chain rewritten wholesale
(even by someone holding the key) no longer has the checkpointed hash at that position. Rows
hold names of fields, never their values.
"""

import asyncio
import contextlib
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, NotRequired, TypedDict, Unpack

import sqlalchemy as sa
import structlog
from fastapi import APIRouter, Query
from prometheus_client import Counter, Gauge
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession
from sqlalchemy.orm import aliased

from events.tracing import current_trace_id

if TYPE_CHECKING:
    from aiokafka import AIOKafkaProducer
from services.kit.clock import now
from services.kit.db import BareConnections, HeldBack, SessionDep, UTCDateTime, insert_many, wake_after_commit

log = structlog.get_logger(__name__)
GENESIS = "0" * 64
# On an answer whose access the service recorded itself, in the statement that read the data and
# with the fields the caller receives in clear (Actor.released_in_clear): names the component
# whose trail holds the record, and the gateway writes no second one (gateway/proxy.py).
ACCESS_RECORDED_HEADER = "X-Access-Recorded"

AUDIT_VERIFICATION_FAILURES = Counter(
    "crm_audit_chain_verification_failures_total",
    "Scheduled audit-chain checks that found a broken chain",
    ["component"],
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


def _indexes(table: sa.Table) -> list[sa.Index]:
    """The audit table's indexes, declared once for the models and the migrations."""
    unsealed = table.c.hash.is_(None)
    return [
        sa.Index("ix_audit_log_customer_id", table.c.customer_id, table.c.at),
        sa.Index("ix_audit_log_actor", table.c.actor, table.c.at),
        sa.Index("ix_audit_log_unsealed", table.c.id, sqlite_where=unsealed, postgresql_where=unsealed),
    ]


def create_audit_table(op) -> None:
    """For a component's migration: the audit table and its indexes."""
    table = op.create_table("audit_log", *_columns())
    for index in _indexes(table):
        index.create(op.get_bind())
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


def _canonical(content: list | dict) -> bytes:
    return json.dumps(content, separators=(",", ":"), sort_keys=True).encode()


def _digest(key: bytes, row, position: int, prev_hash: str) -> str:
    content = [
        position,
        _canonical_time(row.at),
        row.actor,
        row.role,
        row.action,
        row.customer_id,
        row.fields,
        row.reason,
        row.outcome,
        row.request_id,
        prev_hash,
    ]
    return hmac.new(key, _canonical(content), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Checkpoint:
    """The head of one chain at one moment, signed under the audit key (a key derived from it,
    so a checkpoint signature can never pass for a row hash)."""

    chain: str
    position: int
    hash: str
    at: str
    signature: str = ""

    def _content(self) -> bytes:
        return _canonical({"chain": self.chain, "position": self.position, "hash": self.hash, "at": self.at})

    def signed(self, key: bytes) -> "Checkpoint":
        return Checkpoint(self.chain, self.position, self.hash, self.at, _checkpoint_signature(key, self._content()))

    def valid(self, key: bytes) -> bool:
        return hmac.compare_digest(self.signature, _checkpoint_signature(key, self._content()))

    def to_json(self) -> bytes:
        return _canonical(self.__dict__)

    @classmethod
    def from_json(cls, raw: bytes) -> "Checkpoint":
        value = json.loads(raw)
        return cls(
            str(value["chain"]),
            int(value["position"]),
            str(value["hash"]),
            str(value["at"]),
            str(value.get("signature", "")),
        )


def _checkpoint_signature(key: bytes, content: bytes) -> str:
    derived = hmac.new(key, b"crm audit checkpoint", hashlib.sha256).digest()
    return hmac.new(derived, content, hashlib.sha256).hexdigest()


class CheckpointStore:
    """Where checkpoints are kept outside the chain's database: the append-only Kafka topic
    `crm.audit-checkpoints`, keyed by chain. A producer that only appends; a reader that takes
    every checkpoint of one chain from the start of the topic."""

    def __init__(self, kafka_connection, client_id: str):
        self.kafka = kafka_connection  # events.kafka.Connection, or a bootstrap address
        self.client_id = client_id
        self._producer: AIOKafkaProducer | None = None

    async def publish(self, checkpoint: Checkpoint) -> None:
        from events import kafka
        from events.contracts import topics

        if self._producer is None:
            producer = kafka.producer(self.kafka, f"{self.client_id}-audit-anchor")
            await producer.start()
            self._producer = producer
        await self._producer.send_and_wait(
            topics.AUDIT_CHECKPOINTS, key=checkpoint.chain.encode(), value=checkpoint.to_json()
        )

    async def read(self, chain: str, timeout: float = 20.0) -> list[Checkpoint]:
        from aiokafka import TopicPartition

        from events import kafka
        from events.contracts import topics

        consumer = kafka.consumer(self.kafka, None, [], client_id=f"{self.client_id}-verify")
        await consumer.start()
        try:
            known = consumer.partitions_for_topic(topics.AUDIT_CHECKPOINTS)
            if not known:
                await consumer.topics()  # refreshes the cluster metadata
                known = consumer.partitions_for_topic(topics.AUDIT_CHECKPOINTS)
            partitions = [TopicPartition(topics.AUDIT_CHECKPOINTS, p) for p in sorted(known or ())]
            if not partitions:
                raise RuntimeError(f"topic {topics.AUDIT_CHECKPOINTS} not found")
            consumer.assign(partitions)
            ends = await consumer.end_offsets(partitions)
            await consumer.seek_to_beginning(*partitions)
            found: list[Checkpoint] = []
            deadline = time.monotonic() + timeout
            while True:
                positions = [await consumer.position(tp) for tp in partitions]
                if all(position >= ends[tp] for position, tp in zip(positions, partitions, strict=True)):
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError("reading the audit checkpoints took too long")
                for records in (await consumer.getmany(timeout_ms=200)).values():
                    for record in records:
                        if record.key == chain.encode():
                            found.append(Checkpoint.from_json(record.value))
            return found
        finally:
            await kafka.stopped(consumer.stop())

    async def close(self) -> None:
        from events import kafka

        if self._producer is not None:
            await kafka.stopped(self._producer.stop())
            self._producer = None


@dataclass
class Verification:
    sealed: int
    unsealed: int
    broken_at: int | None = None
    problem: str | None = None
    checkpoints: int = 0

    @property
    def intact(self) -> bool:
        return self.broken_at is None


# One active sealer per database.
_SEALER_LOCK = sa.text("SELECT pg_try_advisory_xact_lock(hashtext('audit_sealer'))")


class Access(TypedDict):
    """One access to customer data, as an audit row names it."""

    actor: str
    role: str
    action: str
    customer_id: str | None
    fields: NotRequired[Collection[str]]
    reason: NotRequired[str | None]
    outcome: NotRequired[str]


class ManyAccess(TypedDict):
    """One access to many customers' data (a list, a bulk import): a row per customer."""

    actor: str
    role: str
    action: str
    customer_ids: Sequence[str | None]
    fields: NotRequired[Collection[str]]
    reason: NotRequired[str | None]
    outcome: NotRequired[str]


class AuditTrail:
    def __init__(self, metadata: sa.MetaData):
        self.table = sa.Table("audit_log", metadata, *_columns())
        _indexes(self.table)
        t = self.table
        # The sealer's statements, built once: SQLAlchemy keeps each one's cache key, so a run of
        # the sealer does not build and key them again every time it wakes.
        self._head = (
            sa.select(t.c.chain_position, t.c.hash)
            .where(t.c.chain_position.is_not(None))
            .order_by(t.c.chain_position.desc())
            .limit(1)
        )
        self._unsealed = sa.select(t).where(t.c.hash.is_(None)).order_by(t.c.id).limit(self.SEAL_BATCH)
        self._wake = asyncio.Event()
        # Set by `configure` from the component's settings (ServiceSpec does it); the key is
        # read when first needed, so commands that never seal or verify (migrate) need none.
        self._key_source: Callable[[], bytes] | None = None
        self._key_value: bytes | None = None
        self.chain = "unconfigured"
        self.seal_delay = 0.05
        self.poll_interval = 1.0
        self.checkpoint_interval = 60.0

    def configure(
        self,
        *,
        key: Callable[[], bytes],
        chain: str,
        seal_delay: float,
        poll_interval: float,
        checkpoint_interval: float,
    ) -> None:
        self._key_source, self._key_value, self.chain = key, None, chain
        self.seal_delay, self.poll_interval, self.checkpoint_interval = seal_delay, poll_interval, checkpoint_interval

    @property
    def key(self) -> bytes:
        if self._key_value is None:
            if self._key_source is None:
                raise RuntimeError("the audit trail has no key: configure it from the component's settings")
            self._key_value = self._key_source()
        return self._key_value

    def _key(self) -> bytes:
        return self.key

    def _row(self, *, actor: str, role: str, action: str, fields, reason: str | None, outcome: str) -> dict:
        return {
            "at": now(),
            "actor": actor[:128],
            "role": role[:64],
            "action": action[:200],
            "fields": ",".join(sorted(fields)),
            "reason": reason[:500] if reason else None,
            "outcome": outcome,
            "request_id": current_trace_id.get(),
        }

    async def record(self, session: AsyncSession | AsyncConnection, **access: Unpack["Access"]) -> None:
        await self.insert_rows(session, [self.row(**access)])

    async def record_many(self, session: AsyncSession | AsyncConnection, **access: Unpack["ManyAccess"]) -> None:
        """One row per customer for the same access (lists, bulk imports), in one round trip."""
        if access["customer_ids"]:
            await self.insert_rows(session, self.rows_for(**access))

    def rows_for(self, **access: Unpack["ManyAccess"]) -> list[dict]:
        """The rows of one access to many customers (for `record_many`, or a `held_back`)."""
        common = self._common(access)
        return [{**common, "customer_id": c} for c in access["customer_ids"]]

    def held_back(self) -> HeldBack:
        """Where a long transaction stages its records (rows from `rows_for`) until it releases
        them just before it commits (services/kit/db.py)."""
        return HeldBack(self.table, self._wake)

    def row(self, **access: Unpack["Access"]) -> dict:
        """One access's row, taken now (time, request id), for `insert_rows` to write later with
        the rows of other accesses (the gateway's group commit)."""
        return {**self._common(access), "customer_id": access["customer_id"]}

    def _common(self, access: "Access | ManyAccess") -> dict:
        """A row's values but the customer."""
        return self._row(
            actor=access["actor"],
            role=access["role"],
            action=access["action"],
            fields=access.get("fields", ()),
            reason=access.get("reason"),
            outcome=access.get("outcome", "ok"),
        )

    async def insert_rows(self, session: AsyncSession | AsyncConnection, rows: list[dict]) -> None:
        """Rows from `row`, in one round trip, in the caller's transaction; the sealer is woken
        when a session's transaction commits (a connection's: at once)."""
        await insert_many(session, self.table, rows)
        if isinstance(session, AsyncSession):
            wake_after_commit(session, self._wake)
        else:
            self._wake.set()

    _READ_COLUMNS = ("at", "actor", "role", "action", "customer_id", "fields", "reason", "outcome", "request_id")

    # The rows of `row` as one statement of column arrays, for a bare asyncpg connection
    # (PostgreSQL): a quarter of the client CPU of the same INSERT through SQLAlchemy. A value
    # too long for its column is refused (assignment cast), as it is through SQLAlchemy.
    _ARRAY_INSERT = (
        f"INSERT INTO audit_log ({', '.join(_READ_COLUMNS)}) SELECT * FROM unnest("
        + ", ".join(f"${i}::{'timestamptz' if name == 'at' else 'text'}[]" for i, name in enumerate(_READ_COLUMNS, 1))
        + ")"
    )

    # One row as plain values: a third less client CPU, and less server time, than the arrays
    # (one row is the common case: a lone call, or calls spaced wider than a commit).
    _ROW_INSERT = (
        f"INSERT INTO audit_log ({', '.join(_READ_COLUMNS)}) "
        f"VALUES ({', '.join(f'${i}' for i in range(1, len(_READ_COLUMNS) + 1))})"
    )

    async def insert_rows_bare(self, connections: BareConnections, rows: list[dict]) -> None:
        """Rows from `row`, in one statement and its own commit (no transaction open)."""
        if len(rows) == 1:
            await connections.fetch(self._ROW_INSERT, *(rows[0][name] for name in self._READ_COLUMNS))
        else:
            await connections.fetch(self._ARRAY_INSERT, *([row[name] for row in rows] for name in self._READ_COLUMNS))
        self._wake.set()

    def audited_read(self, entity, key, released: Callable) -> sa.Select:
        """Built once (at import): a read of the one `entity` row whose `key` column equals the
        bind `:key`, and, in the same statement (a data-modifying CTE, PostgreSQL), the insert of
        this access's audit row exactly when `released(row)` holds: the conditions under which
        the caller releases the row. Execute it with `read_params(...)` on its own (autocommit):
        the statement commits the record and returns the row together, or neither. It returns
        the row's columns (a Core row, read by attribute as the entity is), not an ORM object: no
        session, identity map or instance state for a row that is only answered."""
        found = sa.select(entity).where(key(entity) == sa.bindparam("key")).cte("found")
        row = aliased(entity, found)
        t = self.table
        insert = t.insert().from_select(
            list(self._READ_COLUMNS),
            sa.select(*[sa.bindparam(f"audit_{name}", type_=t.c[name].type) for name in self._READ_COLUMNS])
            .select_from(found)
            .where(released(row)),
        )
        return sa.select(*found.c).add_cte(insert.cte("audited"))

    def read_params(
        self,
        *,
        actor: str,
        role: str,
        action: str,
        customer_id: str,
        fields: Collection[str] = (),
        reason: str | None = None,
    ) -> dict:
        """The audit row's values for a statement from `audited_read`."""
        self._wake.set()
        values = {
            **self._row(actor=actor, role=role, action=action, fields=fields, reason=reason, outcome="ok"),
            "customer_id": customer_id,
        }
        return {f"audit_{name}": value for name, value in values.items()}

    # --- sealing ---------------------------------------------------------------------------

    async def head(self, connection: AsyncConnection) -> tuple[int, str]:
        head = (await connection.execute(self._head)).first()
        return (head.chain_position, head.hash) if head else (0, GENESIS)

    SEAL_BATCH = 5000

    async def seal_pending(self, engine: AsyncEngine, batch_size: int = SEAL_BATCH) -> int:
        """Link up to `batch_size` committed rows into the chain: one lock, one head read, one
        read of the pending rows and one batched update, in one transaction."""
        t = self.table
        key = self._key()
        async with engine.begin() as connection:
            locked = engine.dialect.name != "postgresql" or await connection.scalar(_SEALER_LOCK)
            if not locked:
                return 0
            position, prev_hash = await self.head(connection)
            unsealed = self._unsealed if batch_size == self.SEAL_BATCH else self._unsealed.limit(batch_size)
            pending = (await connection.execute(unsealed)).all()
            if not pending:
                return 0
            sealed = []
            for row in pending:
                position += 1
                digest = _digest(key, row, position, prev_hash)
                sealed.append({"row_id": row.id, "position": position, "prev": prev_hash, "digest": digest})
                prev_hash = digest
            if engine.dialect.name == "postgresql":  # one statement for the batch
                await connection.execute(
                    self._SEAL_BATCH,
                    {
                        "ids": [s["row_id"] for s in sealed],
                        "positions": [s["position"] for s in sealed],
                        "prevs": [s["prev"] for s in sealed],
                        "digests": [s["digest"] for s in sealed],
                    },
                )
            else:
                await connection.execute(
                    t.update()
                    .where(t.c.id == sa.bindparam("row_id"))
                    .values(
                        chain_position=sa.bindparam("position"),
                        prev_hash=sa.bindparam("prev"),
                        hash=sa.bindparam("digest"),
                    ),
                    sealed,
                )
            return len(pending)

    _SEAL_BATCH = sa.text(
        "UPDATE audit_log AS a SET chain_position = v.position, prev_hash = v.prev, hash = v.digest "
        "FROM unnest(CAST(:ids AS bigint[]), CAST(:positions AS bigint[]), CAST(:prevs AS text[]), "
        "CAST(:digests AS text[])) AS v(id, position, prev, digest) WHERE a.id = v.id"
    )

    async def run_verifier(self, engine: AsyncEngine, component: str, interval: float) -> None:
        """Verify the chain every `interval` seconds; a broken chain counts as a failure (alerted)."""
        while True:
            try:
                result = await self.verify(engine)
                if result.intact:
                    AUDIT_VERIFIED_AT.labels(component).set_to_current_time()
                else:
                    AUDIT_VERIFICATION_FAILURES.labels(component).inc()
                    log.error(
                        "audit_chain_broken", component=component, position=result.broken_at, problem=result.problem
                    )
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # database away: the timestamp goes stale, which is alerted too
                log.warning("audit_verifier_retry", error_type=type(exc).__name__)
            await asyncio.sleep(interval)

    async def publish_checkpoint(self, engine: AsyncEngine, store: CheckpointStore) -> Checkpoint | None:
        """Sign the current head and keep it in `store`; None while the chain is empty."""
        async with engine.connect() as connection:
            position, digest = await self.head(connection)
        if position == 0:
            return None
        checkpoint = Checkpoint(self.chain, position, digest, _canonical_time(now())).signed(self._key())
        await store.publish(checkpoint)
        return checkpoint

    async def run_sealer(self, engine: AsyncEngine, store: CheckpointStore | None = None) -> None:
        """Seal soon after writes (woken by them, then waiting `seal_delay` so a burst becomes
        one batch), or every `poll_interval` for rows other replicas wrote; publish a checkpoint
        every `checkpoint_interval` when the head moved."""
        last_checkpoint, checkpointed_at = None, 0.0
        try:
            while True:
                try:
                    async with asyncio.timeout(self.poll_interval):  # not wait_for: see events.kafka.stopped
                        await self._wake.wait()
                    await asyncio.sleep(self.seal_delay)
                except TimeoutError:
                    pass
                self._wake.clear()
                try:
                    # A batch short of full took every row committed when it read them; rows
                    # written since woke this loop again. (Asking once more until a batch comes
                    # back empty cost a second transaction on every wake.)
                    while await self.seal_pending(engine) >= self.SEAL_BATCH:
                        pass
                    if store is not None and time.monotonic() - checkpointed_at >= self.checkpoint_interval:
                        async with engine.connect() as connection:
                            head = await self.head(connection)
                        if head != last_checkpoint:
                            await self.publish_checkpoint(engine, store)
                            last_checkpoint = head
                        checkpointed_at = time.monotonic()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # database or broker away: seal and anchor later
                    log.warning("audit_sealer_retry", error_type=type(exc).__name__)
        finally:
            if store is not None:
                with contextlib.suppress(Exception):  # shutting down: the close is bounded
                    await store.close()

    # --- verification ------------------------------------------------------------------------

    async def verify(
        self, engine: AsyncEngine, checkpoints: Sequence[Checkpoint] = (), batch_size: int = 5000
    ) -> Verification:
        """Walk the chain: every row's position, link and keyed hash; then every checkpoint of
        this chain (signature, and the hash at its position)."""
        t = self.table
        key = self._key()
        anchors: dict[int, list[Checkpoint]] = {}
        for checkpoint in checkpoints:
            if checkpoint.chain != self.chain:
                continue
            if not checkpoint.valid(key):
                return Verification(0, 0, checkpoint.position, "checkpoint signature invalid")
            anchors.setdefault(checkpoint.position, []).append(checkpoint)
        anchored = sum(map(len, anchors.values()))
        expected_position, prev_hash, sealed = 1, GENESIS, 0
        async with engine.connect() as connection:
            unsealed = (
                await connection.execute(sa.select(sa.func.count()).select_from(t).where(t.c.hash.is_(None)))
            ).scalar_one()

            def broken(at: int, problem: str) -> Verification:
                return Verification(sealed, unsealed, at, problem, anchored)

            after = 0
            while True:
                rows = (
                    await connection.execute(
                        sa.select(t).where(t.c.chain_position > after).order_by(t.c.chain_position).limit(batch_size)
                    )
                ).all()
                if not rows:
                    break
                for row in rows:
                    if row.chain_position != expected_position:
                        return broken(expected_position, "record missing from the chain")
                    if row.prev_hash != prev_hash:
                        return broken(row.chain_position, "link to the previous record broken")
                    if _digest(key, row, row.chain_position, row.prev_hash) != row.hash:
                        return broken(row.chain_position, "record content altered")
                    if any(a.hash != row.hash for a in anchors.get(row.chain_position, ())):
                        return broken(row.chain_position, "chain differs from its checkpoint (rewritten)")
                    prev_hash, expected_position = row.hash, expected_position + 1
                    sealed += 1
                after = rows[-1].chain_position
        beyond = [position for position in anchors if position > sealed]
        if beyond:
            return broken(
                sealed + 1,
                f"newest records removed: a checkpoint saw position {max(beyond)}, the chain ends at {sealed}",
            )
        return Verification(sealed, unsealed, checkpoints=anchored)


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


class AuditQuery(BaseModel):
    """The filters of every audit trail's query (profile's, consent's, the gateway's)."""

    customer_id: str | None = None
    actor: str | None = None
    since: datetime | None = Field(None, description="Inclusive, ISO 8601 with time zone.")
    until: datetime | None = Field(None, description="Exclusive, ISO 8601 with time zone.")
    after: int | None = Field(None, description="Cursor from the previous page.")
    limit: int = Field(100, ge=1, le=1000)


async def query_trail(trail: AuditTrail, session: AsyncSession | AsyncConnection, filters: AuditQuery) -> AuditPage:
    """One page of `trail`, oldest first, by customer, actor and time."""
    t = trail.table
    query = sa.select(t).order_by(t.c.id).limit(filters.limit + 1)
    for column, value in ((t.c.customer_id, filters.customer_id), (t.c.actor, filters.actor)):
        if value is not None:
            query = query.where(column == value)
    if filters.since is not None:
        query = query.where(t.c.at >= filters.since)
    if filters.until is not None:
        query = query.where(t.c.at < filters.until)
    if filters.after is not None:
        query = query.where(t.c.id > filters.after)
    rows = (await session.execute(query)).all()
    page = rows[: filters.limit]
    items = [
        AuditRecordOut(
            **{
                **row._mapping,
                "fields": [f for f in row.fields.split(",") if f],
                "at": row.at if row.at.tzinfo else row.at.replace(tzinfo=UTC),
            }
        )
        for row in page
    ]
    return AuditPage(items=items, next_cursor=page[-1].id if len(rows) > filters.limit else None)


def audit_router(trail: AuditTrail) -> APIRouter:
    """`GET /api/v1/audit-records`: the trail by customer, actor and time (for compliance officers)."""
    router = APIRouter(prefix="/api/v1/audit-records", tags=["audit"])

    @router.get("", response_model=AuditPage)
    async def audit_records(session: SessionDep, filters: Annotated[AuditQuery, Query()]) -> AuditPage:
        return await query_trail(trail, session, filters)

    return router
