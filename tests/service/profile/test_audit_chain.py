"""The profile audit trail in process: a read and its audit row in one statement (exactly when
the row is released), batched sealing under the HMAC key, and verification against checkpoints
(truncation and wholesale rewriting detected)."""

import asyncio
import hashlib
import hmac
import json
import uuid

import sqlalchemy as sa

from services.kit.audit import Checkpoint, _canonical, _canonical_time
from services.kit.clock import now
from services.profile.models import audit
from services.profile.service import RETURNED_FIELDS
from tests.support import eventually, new_customer


async def _rows(engine, customer_id: str) -> list:
    async with engine.connect() as connection:
        return (
            await connection.execute(
                sa.select(audit.table).where(audit.table.c.customer_id == customer_id).order_by(audit.table.c.id)
            )
        ).all()


async def _create(profile, **overrides) -> dict:
    async with profile.client("admin", "admin-1") as http:
        answer = await http.post("/api/v1/customers", json=new_customer(**overrides))
    assert answer.status_code == 201, answer.text
    return answer.json()


async def test_a_read_writes_its_audit_row_only_when_the_row_is_released(service):
    profile = await service("profile")
    customer = await _create(profile)
    path = f"/api/v1/customers/{customer['id']}"

    async with profile.client("service_agent", "agent-7", reason="call back") as http:
        assert (await http.get(path)).status_code == 200
    async with profile.client("relationship_manager", "rm-not-assigned") as http:
        assert (await http.get(path)).status_code == 404  # not theirs: nothing released, nothing recorded
    async with profile.client("relationship_manager", "rm-none") as http:
        assert (await http.get("/api/v1/customers/no-such-customer")).status_code == 404

    reads = [r for r in await _rows(profile.engine, customer["id"]) if r.action == "read"]
    assert [(r.actor, r.role, r.reason, r.outcome) for r in reads] == [("agent-7", "service_agent", "call back", "ok")]
    assert "national_id" in reads[0].fields.split(",")

    # A manager's own customer: released to them, and recorded.
    async with profile.client("relationship_manager", "rm-own") as http:
        own = (await http.post("/api/v1/customers", json=new_customer())).json()
        assert (await http.get(f"/api/v1/customers/{own['id']}")).status_code == 200
    reads = [r for r in await _rows(profile.engine, own["id"]) if r.action == "read"]
    assert [(r.actor, r.role) for r in reads] == [("rm-own", "relationship_manager")]


async def test_a_read_records_the_fields_its_caller_receives_in_clear_and_says_it_did(service):
    """The gateway names the fields it masks for the caller (the credential's `masked`): the
    read's audit row names the rest, and the answer says the access is recorded, so the gateway
    records no second row. Lists record so too."""
    profile = await service("profile")
    manager = f"rm-{uuid.uuid4().hex[:8]}"  # the list below reads this customer alone, whatever else the database holds
    customer = await _create(profile, relationship_manager_id=manager)
    masked = ("name", "national_id", "phone")

    async with profile.client("service_agent", "agent-8", masked=masked) as http:
        answer = await http.get(f"/api/v1/customers/{customer['id']}")
        refused = await http.get(f"/api/v1/customers/{uuid.uuid4()}")
    assert answer.status_code == 200
    assert answer.headers["x-access-recorded"] == "profile"
    assert refused.status_code == 404
    assert "x-access-recorded" not in refused.headers  # nothing released, nothing recorded
    async with profile.client("admin", "admin-8", masked=("email",)) as http:
        listed = await http.get("/api/v1/customers", params={"manager": manager})
    assert [item["id"] for item in listed.json()["items"]] == [customer["id"]]

    rows = await _rows(profile.engine, customer["id"])
    (read,) = [r for r in rows if r.action == "read"]
    assert read.fields.split(",") == sorted(set(RETURNED_FIELDS) - set(masked))
    (list_row,) = [r for r in rows if r.action == "list"]
    assert list_row.fields.split(",") == sorted(set(RETURNED_FIELDS) - {"email"})


async def test_a_read_that_cannot_be_recorded_releases_nothing(service):
    profile = await service("profile")
    customer = await _create(profile)
    async with profile.engine.begin() as connection:
        await connection.execute(sa.text("ALTER TABLE audit_log RENAME TO audit_log_away"))
    try:
        async with profile.client("admin", "admin-9") as http:
            answer = await http.get(f"/api/v1/customers/{customer['id']}")
    finally:
        async with profile.engine.begin() as connection:
            await connection.execute(sa.text("ALTER TABLE audit_log_away RENAME TO audit_log"))
    assert answer.status_code == 503
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["title"] == "Audit unavailable"
    assert customer["name"] not in answer.text and customer["national_id"] not in answer.text


async def test_the_sealer_is_woken_by_a_commit_not_by_rows_it_cannot_see_yet(service, monkeypatch):
    """A long transaction writing audit rows (a bulk import, chunk by chunk) must not wake the
    sealer to scan rows that are not committed; its commit wakes it, its rollback does not."""
    profile = await service("profile")
    monkeypatch.setattr(audit, "poll_interval", 60.0)  # only a wake makes it look
    scans: list[str] = []

    def count_scans(_connection, _cursor, statement, *_):
        if "audit_log.hash IS NULL" in statement:
            scans.append(statement)

    async def sealed(customer_id: str) -> bool:
        rows = await _rows(profile.engine, customer_id)
        return bool(rows) and all(row.hash is not None for row in rows)

    async def write(customer_id: str, *, commit: bool) -> None:
        async with profile.sessions() as session:
            await session.begin()
            for _ in range(3):  # three chunks, each longer than the sealer's delay
                await audit.record_many(
                    session, actor="job", role="system", action="import", customer_ids=[customer_id]
                )
                await asyncio.sleep(2 * audit.seal_delay)
            assert await _rows(profile.engine, customer_id) == []  # not visible outside the transaction
            await (session.commit() if commit else session.rollback())

    sa.event.listen(profile.engine.sync_engine, "before_cursor_execute", count_scans)
    sealer = asyncio.create_task(audit.run_sealer(profile.engine))
    try:
        await asyncio.sleep(4 * audit.seal_delay)  # a wake left by an earlier test is spent
        before = len(scans)
        await write(rolled_back := str(uuid.uuid4()), commit=False)
        await asyncio.sleep(2 * audit.seal_delay)
        assert len(scans) == before and await _rows(profile.engine, rolled_back) == []

        await write(committed := str(uuid.uuid4()), commit=True)
        assert len(scans) == before

        async def is_sealed():
            assert await sealed(committed)

        await eventually(is_sealed, timeout=5, interval=audit.seal_delay)
        assert len(scans) > before
    finally:
        sealer.cancel()
        sa.event.remove(profile.engine.sync_engine, "before_cursor_execute", count_scans)


async def test_sealing_is_batched_keyed_and_checked_against_checkpoints(service):
    profile = await service("profile")
    customer = await _create(profile)
    async with profile.client("admin", "admin-2") as http:
        for _ in range(5):
            assert (await http.get(f"/api/v1/customers/{customer['id']}")).status_code == 200
    while await audit.seal_pending(profile.engine):
        pass
    checked = await audit.verify(profile.engine)
    assert checked.intact and checked.unsealed == 0 and checked.sealed >= 6

    # The head, checkpointed and signed as the sealer publishes it.
    async with profile.engine.connect() as connection:
        position, head_hash = await audit.head(connection)
    checkpoint = Checkpoint(audit.chain, position, head_hash, _canonical_time(now())).signed(audit.key)
    assert (await audit.verify(profile.engine, [checkpoint])).intact
    forged = Checkpoint(audit.chain, position, head_hash, checkpoint.at, "0" * 64)
    assert (await audit.verify(profile.engine, [forged])).problem == "checkpoint signature invalid"

    async with profile.engine.begin() as connection:
        await connection.execute(sa.text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
        newest = (
            (await connection.execute(sa.select(audit.table).where(audit.table.c.chain_position > position - 2)))
            .mappings()
            .all()
        )
        # The newest two records removed: the chain itself still links up...
        await connection.execute(audit.table.delete().where(audit.table.c.chain_position > position - 2))
    truncated = await audit.verify(profile.engine, [checkpoint])
    assert not truncated.intact and "newest records removed" in (truncated.problem or "")
    assert (await audit.verify(profile.engine)).intact  # ...which only the anchor shows

    async with profile.engine.begin() as connection:
        await connection.execute(audit.table.insert(), [dict(row) for row in newest])
    assert (await audit.verify(profile.engine, [checkpoint])).intact

    # Someone holding the key rewrites history wholesale (one actor changed, every hash recomputed).
    async with profile.engine.begin() as connection:
        rows = (
            await connection.execute(
                sa.select(audit.table)
                .where(audit.table.c.chain_position.is_not(None))
                .order_by(audit.table.c.chain_position)
            )
        ).all()
        prev = "0" * 64
        for row in rows:
            values = dict(row._mapping)
            if row.chain_position == 1:
                values["actor"] = "someone-else"
            content = [
                row.chain_position,
                _canonical_time(values["at"]),
                values["actor"],
                values["role"],
                values["action"],
                values["customer_id"],
                values["fields"],
                values["reason"],
                values["outcome"],
                values["request_id"],
                prev,
            ]
            digest = hmac.new(audit.key, _canonical(content), hashlib.sha256).hexdigest()
            await connection.execute(
                audit.table.update()
                .where(audit.table.c.id == row.id)
                .values(actor=values["actor"], prev_hash=prev, hash=digest)
            )
            prev = digest
        await connection.execute(sa.text("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only"))
    assert (await audit.verify(profile.engine)).intact  # self-consistent under the key...
    rewritten = await audit.verify(profile.engine, [checkpoint])
    assert not rewritten.intact and "rewritten" in (rewritten.problem or "")  # ...but not what was anchored
    assert json.loads(checkpoint.to_json())["chain"].startswith("profile@")
