"""Erasure of a customer (closing and pseudonymising their consents) and the audit trail's proof."""

import subprocess
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from events.contracts import CustomerErasedV1, new_event, topics
from services.kit.identity import caller_headers
from tests.support import eventually
from tests.system.consent.helpers import (
    caller,
    consent_events,
    decide,
    grant,
    grant_body,
    new_customer_id,
    request_consent,
)


async def _rows_mentioning(engine, table: str, text: str) -> int:
    # The whole row as text: whatever column the id might hide in.
    async with engine.connect() as connection:
        return await connection.scalar(
            sa.text(f"SELECT count(*) FROM {table} AS t WHERE t::text LIKE '%' || :text || '%'"), {"text": text}
        )


async def test_erasure_closes_the_customers_consents_and_pseudonymises_them(client, url, kafka, consent_db):
    customer_id = new_customer_id()
    as_customer = caller_headers("customer", customer_id, customer_scope=customer_id)
    active = await grant(client, url, grant_body(customer_id, notice_text="notice"), **as_customer)
    requested = await request_consent(
        client, url, grant_body(customer_id, purpose="analytics"), caller("relationship_manager", "rm-0042")
    )
    revoked = await grant(client, url, grant_body(customer_id, purpose="risk_control"), **as_customer)
    assert (await client.post(f"{url}/api/v1/consents/{revoked['id']}/revoke", headers=as_customer)).status_code == 200
    bystander = await grant(client, url, grant_body(new_customer_id()))
    erased = new_event(
        "customer.erased", CustomerErasedV1(customer_id=customer_id, erased_at=datetime.now(UTC)), source="profile"
    )

    await kafka.publish(topics.CUSTOMER, erased.model_dump_json().encode(), key=customer_id)

    # Closed with events that still name the customer, so consumers can act on them.
    for consent in (active, requested):
        [(event, _)] = await kafka.wait_for(topics.CONSENT, consent_events("consent.revoked", consent["id"]))
        assert event.customer_id == customer_id
    # All in one transaction: once those are out, a second revocation of the revoked one would be too.
    assert len(await kafka.wait_for(topics.CONSENT, consent_events("consent.revoked", revoked["id"]))) == 1
    # Pseudonymised in the same transaction: the id is nowhere in the consents or their history,
    # not as the subject, nor as the actor of the customer's own grant and revocation.
    assert await _rows_mentioning(consent_db, "consents", customer_id) == 0
    assert await _rows_mentioning(consent_db, "consent_history", customer_id) == 0
    # The legally required record stays, under one pseudonym.
    async with consent_db.connect() as connection:
        rows = {
            r.id: r
            for r in (
                await connection.execute(
                    sa.text(
                        "SELECT id, customer_id, status, purpose, notice_text_sha256, granted_by, requested_by "
                        "FROM consents WHERE id IN (:a, :b, :c)"
                    ),
                    {"a": active["id"], "b": requested["id"], "c": revoked["id"]},
                )
            ).all()
        }
        reasons = (
            await connection.execute(
                sa.text("SELECT to_status, actor, reason FROM consent_history WHERE consent_id = :id ORDER BY id"),
                {"id": active["id"]},
            )
        ).all()
    [pseudonym] = {r.customer_id for r in rows.values()}
    assert len(pseudonym) == 64 and pseudonym != customer_id
    assert {i: r.status for i, r in rows.items()} == {
        active["id"]: "revoked",
        requested["id"]: "revoked",
        revoked["id"]: "revoked",
    }
    assert rows[active["id"]].granted_by == pseudonym and rows[requested["id"]].requested_by == "rm-0042"
    assert (rows[active["id"]].purpose, rows[active["id"]].notice_text_sha256) == (
        "marketing",
        active["notice_text_sha256"],
    )
    assert [tuple(r) for r in reasons] == [("active", pseudonym, None), ("revoked", "profile", "customer erased")]
    # The API knows the customer no more; the other customer is untouched.
    assert (await client.get(f"{url}/api/v1/customers/{customer_id}/consents")).json() == []
    assert (await decide(client, url, customer_id))["reason"] == "no_consent"
    assert (await client.get(f"{url}/api/v1/consents/{bystander['id']}")).json()["status"] == "active"
    # The hash-chained audit trail cannot change: it keeps the (random, non-personal) customer id.
    assert await _rows_mentioning(consent_db, "audit_log", customer_id) > 0


async def _sealed_audit_rows(engine, consent_id: str) -> list:
    async with engine.connect() as connection:
        rows = (
            await connection.execute(
                sa.text(
                    "SELECT id, action, actor, role, customer_id, hash FROM audit_log "
                    "WHERE fields LIKE '%consent:' || :id || '%' ORDER BY id"
                ),
                {"id": consent_id},
            )
        ).all()
    assert rows and all(r.hash is not None for r in rows)
    return rows


async def test_every_change_is_in_the_audit_chain_which_detects_tampering(client, system, url, consent_db):
    customer_id = new_customer_id()
    consent = await request_consent(client, url, grant_body(customer_id), caller("relationship_manager", "rm-0042"))
    approve = await client.post(
        f"{url}/api/v1/consents/{consent['id']}/approve", headers=caller("compliance_officer", "co-7")
    )
    revoke = await client.post(
        f"{url}/api/v1/consents/{consent['id']}/revoke",
        headers=caller_headers("customer", customer_id, customer_scope=customer_id),
    )
    assert (approve.status_code, revoke.status_code) == (200, 200)

    rows = await eventually(lambda: _sealed_audit_rows(consent_db, consent["id"]), timeout=10)

    assert [(r.action, r.actor, r.role, r.customer_id) for r in rows] == [
        ("consent.requested", "rm-0042", "relationship_manager", customer_id),
        ("consent.approved", "co-7", "compliance_officer", customer_id),
        ("consent.granted", "co-7", "compliance_officer", customer_id),
        ("consent.revoked", customer_id, "customer", customer_id),
    ]
    intact = system.run_cli("verify-audit", "consent")
    assert "audit chain intact" in intact.stdout

    # A DBA rewrites who approved the consent, switching the append-only trigger off to do it.
    await _set_actor_as_a_dba(consent_db, rows[1].id, "rm-0042")
    try:
        with pytest.raises(subprocess.CalledProcessError) as broken:
            system.run_cli("verify-audit", "consent")
        assert broken.value.returncode == 1
        assert "BROKEN" in broken.value.stdout and "record content altered" in broken.value.stdout
    finally:
        await _set_actor_as_a_dba(consent_db, rows[1].id, "co-7")  # put it back for the other tests
    assert "intact" in system.run_cli("verify-audit", "consent").stdout


async def _set_actor_as_a_dba(engine, row_id: int, actor: str) -> None:
    async with engine.begin() as connection:
        await connection.execute(sa.text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
        await connection.execute(
            sa.text("UPDATE audit_log SET actor = :actor WHERE id = :id"), {"actor": actor, "id": row_id}
        )
        await connection.execute(sa.text("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only"))
