"""The audit chain's anchor (R2.3): checkpoints of the chain head on the append-only topic
crm.audit-checkpoints let `crm verify-audit` catch what the chain alone cannot: its newest
records removed, or the whole chain recomputed by someone holding the key."""

import base64
import hashlib
import hmac
import os
import subprocess
import sys

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from services.kit.audit import GENESIS, CheckpointStore, _canonical, _canonical_time
from services.profile.models import audit
from tests.support import eventually, new_customer

ADMIN = {"X-Actor-Id": "admin-a", "X-Actor-Role": "admin"}


def verify(own, **env: str) -> tuple[int, str]:
    """`crm verify-audit profile` with `own`'s settings (and `env`): (exit code, what it printed)."""
    done = subprocess.run(
        [sys.executable, "-m", "services.cli", "verify-audit", "profile"],
        env={**own.env, **env},
        capture_output=True,
        text=True,
        check=False,
    )
    return done.returncode, done.stdout


async def test_removing_the_newest_records_or_rewriting_the_chain_fails_verification(own_profile, client):
    own = own_profile
    key = os.urandom(32)
    own.restart_component("profile", PROFILE_AUDIT_KEY=base64.b64encode(key).decode())
    url = own.url("profile") + "/api/v1/customers"
    created = await client.post(url, json=new_customer(), headers=ADMIN)
    assert created.status_code == 201, created.text
    for _ in range(3):
        assert (await client.get(f"{url}/{created.json()['id']}", headers=ADMIN)).status_code == 200

    engine = create_async_engine(own.database_urls["profile"])
    store = CheckpointStore(own.bootstrap_servers, "test")
    chain = f"profile@{engine.url.host}:{engine.url.port or 5432}/{engine.url.database}"

    async def anchored_at_head() -> int:
        async with engine.connect() as connection:
            sealed = await connection.scalar(sa.text("SELECT count(*) FROM audit_log WHERE hash IS NOT NULL"))
            unsealed = await connection.scalar(sa.text("SELECT count(*) FROM audit_log WHERE hash IS NULL"))
        assert sealed >= 4 and unsealed == 0
        # The checkpoint of the head follows the sealing: until it is on the topic, wait.
        checkpoints = await store.read(chain)
        assert checkpoints and max(c.position for c in checkpoints) == sealed
        return sealed

    try:
        head = await eventually(anchored_at_head)
        own.stop_component("profile")  # nothing writes while the DBA below does
        assert verify(own)[0] == 0

        async with engine.begin() as connection:
            await connection.execute(sa.text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
            result = await connection.execute(sa.select(audit.table).where(audit.table.c.chain_position > head - 2))
            newest = [dict(row) for row in result.mappings()]
            await connection.execute(sa.text("DELETE FROM audit_log WHERE chain_position > :p"), {"p": head - 2})
        code, out = verify(own)
        assert code == 1 and "newest records removed" in out, out

        async with engine.begin() as connection:  # put back, the chain verifies again
            await connection.execute(audit.table.insert(), newest)
        assert verify(own)[0] == 0

        # Wholesale: every remaining record recomputed under the key, one actor changed.
        async with engine.begin() as connection:
            rows = (await connection.execute(sa.text("SELECT * FROM audit_log ORDER BY chain_position"))).all()
            prev = GENESIS
            for row in rows:
                actor = "someone-else" if row.chain_position == 1 else row.actor
                content = [
                    row.chain_position,
                    _canonical_time(row.at),
                    actor,
                    row.role,
                    row.action,
                    row.customer_id,
                    row.fields,
                    row.reason,
                    row.outcome,
                    row.request_id,
                    prev,
                ]
                digest = hmac.new(key, _canonical(content), hashlib.sha256).hexdigest()
                await connection.execute(
                    sa.text("UPDATE audit_log SET actor = :a, prev_hash = :p, hash = :h WHERE id = :i"),
                    {"a": actor, "p": prev, "h": digest, "i": row.id},
                )
                prev = digest
        code, out = verify(own)
        assert code == 1 and "rewritten" in out, out
    finally:
        await engine.dispose()


def test_a_trail_that_cannot_be_read_is_not_called_broken(system):
    """Exit 1 means tampering and pages someone; a database that refuses connections is exit 3."""
    code, out = verify(system, PROFILE_DATABASE_URL="postgresql+asyncpg://postgres@127.0.0.1:9/nowhere")
    assert code == 3, out
    assert "cannot read the audit trail" in out and "not checked" in out
