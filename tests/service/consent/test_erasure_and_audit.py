"""Erasure of a customer (closing and pseudonymising their consents) and the audit trail's proof."""

from datetime import UTC, datetime

import sqlalchemy as sa

from events.contracts import CustomerErasedV1, new_event
from services.consent.models import audit
from tests.service.consent.helpers import (
    as_customer,
    caller,
    consent_events,
    decide,
    grant,
    grant_body,
    known_customer,
    request_consent,
)


async def _rows_mentioning(engine, table: str, text: str) -> int:
    # The whole row as text: whatever column the id might hide in.
    async with engine.connect() as connection:
        return await connection.scalar(
            sa.text(f"SELECT count(*) FROM {table} AS t WHERE t::text LIKE '%' || :text || '%'"), {"text": text}
        )


async def test_erasure_closes_the_customers_consents_and_pseudonymises_them(consent, http):
    customer_id = await known_customer(consent)
    own = as_customer(customer_id)
    active = await grant(http, grant_body(customer_id, notice_text="notice"), own)
    requested = await request_consent(
        http, grant_body(customer_id, purpose="analytics"), caller("relationship_manager", "rm-0042")
    )
    revoked = await grant(http, grant_body(customer_id, purpose="risk_control"), own)
    assert (await http.post(f"/api/v1/consents/{revoked['id']}/revoke", headers=own)).status_code == 200
    bystander = await grant(http, grant_body(await known_customer(consent)))
    erased = new_event(
        "customer.erased", CustomerErasedV1(customer_id=customer_id, erased_at=datetime.now(UTC)), source="profile"
    )

    await consent.deliver(erased)

    # Closed with events that still name the customer, so consumers can act on them.
    for closed in (active, requested):
        [event] = await consent_events(consent, "consent.revoked", closed["id"])
        assert event.customer_id == customer_id
    # The one revoked before is not revoked again.
    assert len(await consent_events(consent, "consent.revoked", revoked["id"])) == 1
    # Pseudonymised in the same transaction: the id is nowhere in the consents or their history,
    # not as the subject, nor as the actor of the customer's own grant and revocation.
    assert await _rows_mentioning(consent.engine, "consents", customer_id) == 0
    assert await _rows_mentioning(consent.engine, "consent_history", customer_id) == 0
    # The legally required record stays, under one pseudonym.
    async with consent.engine.connect() as connection:
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
    assert (await http.get(f"/api/v1/customers/{customer_id}/consents")).json() == []
    assert (await decide(http, customer_id))["reason"] == "no_consent"
    assert (await http.get(f"/api/v1/consents/{bystander['id']}")).json()["status"] == "active"
    # The hash-chained audit trail cannot change: it keeps the (random, non-personal) customer id.
    assert await _rows_mentioning(consent.engine, "audit_log", customer_id) > 0


async def _audit_rows(engine, consent_id: str) -> list:
    async with engine.connect() as connection:
        return (
            await connection.execute(
                sa.text(
                    "SELECT id, chain_position, action, actor, role, customer_id, hash FROM audit_log "
                    "WHERE fields LIKE '%consent:' || :id || '%' ORDER BY id"
                ),
                {"id": consent_id},
            )
        ).all()


async def test_every_change_is_in_the_audit_chain_which_detects_tampering(consent, http):
    customer_id = await known_customer(consent)
    requested = await request_consent(http, grant_body(customer_id), caller("relationship_manager", "rm-0042"))
    approve = await http.post(
        f"/api/v1/consents/{requested['id']}/approve", headers=caller("compliance_officer", "co-7")
    )
    revoke = await http.post(f"/api/v1/consents/{requested['id']}/revoke", headers=as_customer(customer_id))
    assert (approve.status_code, revoke.status_code) == (200, 200)

    # As the served process's sealer does.
    while await audit.seal_pending(consent.engine):
        pass
    rows = await _audit_rows(consent.engine, requested["id"])

    assert rows and all(r.hash is not None for r in rows)
    assert [(r.action, r.actor, r.role, r.customer_id) for r in rows] == [
        ("consent.requested", "rm-0042", "relationship_manager", customer_id),
        ("consent.approved", "co-7", "compliance_officer", customer_id),
        ("consent.granted", "co-7", "compliance_officer", customer_id),
        ("consent.revoked", customer_id, "customer", customer_id),
    ]
    # What `crm verify-audit consent` checks.
    assert (await audit.verify(consent.engine)).intact

    # A DBA rewrites who approved the consent, switching the append-only trigger off to do it.
    await _set_actor_as_a_dba(consent.engine, rows[1].id, "rm-0042")
    try:
        broken = await audit.verify(consent.engine)
        assert (broken.intact, broken.broken_at, broken.problem) == (
            False,
            rows[1].chain_position,
            "record content altered",
        )
    finally:
        await _set_actor_as_a_dba(consent.engine, rows[1].id, "co-7")  # put it back for the other tests
    assert (await audit.verify(consent.engine)).intact


async def _set_actor_as_a_dba(engine, row_id: int, actor: str) -> None:
    async with engine.begin() as connection:
        await connection.execute(sa.text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
        await connection.execute(
            sa.text("UPDATE audit_log SET actor = :actor WHERE id = :id"), {"actor": actor, "id": row_id}
        )
        await connection.execute(sa.text("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only"))
