"""Identity documents, their expiry announcements and related-party links of the profile
service, in process, called with the headers the gateway passes on."""

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from services.kit.identity import caller_headers
from services.profile.documents import erase_documents_and_links
from tests.service.profile.helpers import announced, create_customer

PROBLEM = "application/problem+json"
ADMIN = caller_headers("admin", "admin-7")
EXPIRING = "customer.document_expiring"


def a_manager() -> Mapping[str, str]:
    return caller_headers("relationship_manager", f"rm-{uuid.uuid4().hex[:10]}")


def in_days(days: int) -> str:
    return (datetime.now(UTC).date() + timedelta(days=days)).isoformat()


def a_document(**overrides) -> dict:
    body = {
        "type": "passport",
        "document_number": f"E{uuid.uuid4().int % 10**12:012d}",
        "issuer": "CN",
        "issued_on": "2020-03-01",
        "expires_on": in_days(400),
    }
    body.update(overrides)
    return body


async def add_document(client, customer_id: str, headers: Mapping[str, str] = ADMIN, **overrides) -> dict:
    response = await client.post(
        f"/api/v1/customers/{customer_id}/documents", json=a_document(**overrides), headers=headers
    )
    assert response.status_code == 201, response.text
    return response.json()


async def list_documents(client, customer_id: str, headers: Mapping[str, str] = ADMIN) -> list[dict]:
    response = await client.get(f"/api/v1/customers/{customer_id}/documents", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def expiring(client, headers: Mapping[str, str], **params) -> list[dict]:
    """Every page of the follow-up list, checking that each page but the last is full."""
    items, after = [], None
    while True:
        query = {**params, **({"after": after} if after else {})}
        response = await client.get("/api/v1/documents/expiring", params=query, headers=headers)
        assert response.status_code == 200, response.text
        page = response.json()
        items += page["items"]
        after = page["next_cursor"]
        if after is None:
            return items
        assert len(page["items"]) == int(params.get("limit", 50))


# --- Documents ----------------------------------------------------------------------------


async def test_documents_are_added_and_listed_with_their_status(client):
    customer = await create_customer(client, ADMIN)
    body = a_document(type="national_id_card", issuer="cn-psb-110000", expires_on=in_days(60))

    response = await client.post(f"/api/v1/customers/{customer['id']}/documents", json=body, headers=ADMIN)

    assert response.status_code == 201, response.text
    added = response.json()
    assert added == {
        "id": added["id"],
        "customer_id": customer["id"],
        "type": "national_id_card",
        "document_number": body["document_number"],
        "issuer": "CN-PSB-110000",
        "issued_on": "2020-03-01",
        "expires_on": in_days(60),
        "status": "expiring",  # the last day of the 60-day notice period
        "created_at": added["created_at"],
    }
    later = await add_document(client, customer["id"], expires_on=in_days(61), issued_on=None)
    expired = await add_document(client, customer["id"], type="residence_permit", expires_on=in_days(-1))
    today = await add_document(client, customer["id"], type="other", expires_on=in_days(0))

    listed = await list_documents(client, customer["id"])

    assert [(d["id"], d["status"]) for d in listed] == [
        (expired["id"], "expired"),
        (today["id"], "expiring"),
        (added["id"], "expiring"),
        (later["id"], "valid"),
    ]
    assert listed[2] == added
    assert listed[3]["issued_on"] is None


async def test_invalid_or_duplicate_documents_are_refused(client):
    customer = await create_customer(client, ADMIN)
    other = await create_customer(client, ADMIN)
    documents = f"/api/v1/customers/{customer['id']}/documents"
    first = await add_document(client, customer["id"], document_number="g1234567")

    for body, field in [
        (a_document(type="driving_licence"), "type"),
        (a_document(document_number="12 34"), "document_number"),
        (a_document(issued_on=in_days(3)), "issued_on"),
        (a_document(issued_on="2024-05-01", expires_on="2024-04-30"), "issued_on must not be after expires_on"),
    ]:
        response = await client.post(documents, json=body, headers=ADMIN)
        assert response.status_code == 422, (field, response.text)
        assert field in response.text
        assert body["document_number"] not in response.text  # input is never echoed
    # A field the document does not have: nobody may set it (the access policy's write rules).
    response = await client.post(documents, json={**a_document(), "holder_name": "Wang Fang"}, headers=ADMIN)
    assert response.status_code == 403, response.text
    assert response.json()["detail"] == "The role 'admin' may not set: holder_name."
    assert "Wang Fang" not in response.text

    # The same passport, however written, belongs to one person only.
    again = await client.post(
        f"/api/v1/customers/{other['id']}/documents",
        json=a_document(document_number=" G1234567 ", issuer="cn"),
        headers=ADMIN,
    )
    assert again.status_code == 409 and again.headers["content-type"] == PROBLEM
    assert "G1234567" not in again.text.upper()
    assert [d["id"] for d in await list_documents(client, customer["id"])] == [first["id"]]
    assert await list_documents(client, other["id"]) == []
    # Another type or issuer is another document.
    await add_document(client, other["id"], document_number="G1234567", type="national_id_card")

    unknown = await client.get(f"/api/v1/customers/{uuid.uuid4()}/documents", headers=ADMIN)
    assert unknown.status_code == 404 and unknown.headers["content-type"] == PROBLEM


async def test_a_document_number_is_never_stored_in_clear(profile, client):
    customer = await create_customer(client, ADMIN)
    number = f"PX{uuid.uuid4().int % 10**14:014d}"
    document = await add_document(client, customer["id"], document_number=number, expires_on=in_days(5))
    await list_documents(client, customer["id"])

    async with profile.engine.connect() as connection:
        [row] = (
            (
                await connection.execute(
                    sa.text("SELECT * FROM customer_documents WHERE id = :id"), {"id": document["id"]}
                )
            )
            .mappings()
            .all()
        )
        assert row["document_number"] and row["number_index"]
        for table in ("customer_documents", "outbox", "audit_log"):
            for stored in (await connection.execute(sa.text(f"SELECT * FROM {table}"))).all():
                assert not any(number in str(value) for value in stored), table


# --- Follow-up list -----------------------------------------------------------------------


async def test_the_follow_up_list_holds_expired_and_expiring_documents_soonest_first(client):
    manager = a_manager()
    first = await create_customer(client, manager)
    second = await create_customer(client, manager)
    late = await add_document(client, first["id"], headers=manager, expires_on=in_days(60))
    expired = await add_document(client, second["id"], headers=manager, expires_on=in_days(-3))
    soon = await add_document(client, first["id"], headers=manager, expires_on=in_days(5), type="other")
    middle = await add_document(client, second["id"], headers=manager, expires_on=in_days(20))
    await add_document(client, first["id"], headers=manager, expires_on=in_days(61))  # valid: not listed

    for limit in (1, 2, 3, 50):
        items = await expiring(client, manager, limit=limit)
        assert [d["id"] for d in items] == [expired["id"], soon["id"], middle["id"], late["id"]], limit
    assert [d["status"] for d in items] == ["expired", "expiring", "expiring", "expiring"]
    assert items[1] == {k: v for k, v in soon.items() if k != "document_number"}  # no numbers here
    assert [d["id"] for d in await expiring(client, manager, within_days=5)] == [expired["id"], soon["id"]]
    assert [d["id"] for d in await expiring(client, manager, within_days=0)] == [expired["id"]]


async def test_a_bad_cursor_is_refused(client):
    for cursor in ("nonsense", "2026-02-30_abc"):
        response = await client.get("/api/v1/documents/expiring", params={"after": cursor}, headers=ADMIN)
        assert response.status_code == 422, response.text


async def test_a_manager_sees_only_their_own_customers_documents(client):
    mine, theirs = a_manager(), a_manager()
    own = await create_customer(client, mine)
    other = await create_customer(client, theirs)
    own_document = await add_document(client, own["id"], headers=mine, expires_on=in_days(10))
    other_document = await add_document(client, other["id"], headers=theirs, expires_on=in_days(10))

    assert [d["id"] for d in await expiring(client, mine)] == [own_document["id"]]
    assert [d["id"] for d in await expiring(client, theirs)] == [other_document["id"]]
    read = await client.get(f"/api/v1/customers/{other['id']}/documents", headers=mine)
    add = await client.post(f"/api/v1/customers/{other['id']}/documents", json=a_document(), headers=mine)
    assert (read.status_code, add.status_code) == (404, 404)
    everything = {d["id"] for d in await expiring(client, ADMIN, limit=500)}
    assert {own_document["id"], other_document["id"]} <= everything


# --- Expiry announcements -----------------------------------------------------------------


async def flag_expiring(profile) -> None:
    """The `flag-expiring-documents` job, twice over: the second run finds nothing new."""
    await profile.run_job("flag-expiring-documents")
    assert await profile.run_job("flag-expiring-documents") == 0


async def announcements(profile, customer_id: str) -> list[tuple[str, str]]:
    """(document id, status) of every announcement for the customer so far."""
    return sorted(
        (event.payload["document_id"], event.payload["status"])
        for event, _key in await announced(profile, EXPIRING, customer_id)
    )


async def test_the_job_announces_each_document_once_per_status(profile, client):
    customer = await create_customer(client, ADMIN)
    expiring_soon = await add_document(client, customer["id"], expires_on=in_days(10), type="national_id_card")
    expired = await add_document(client, customer["id"], expires_on=in_days(-2), type="residence_permit")
    await add_document(client, customer["id"], expires_on=in_days(300))  # valid: never announced

    await flag_expiring(profile)

    [(event, key)] = [
        (e, k)
        for e, k in await announced(profile, EXPIRING, customer["id"])
        if e.payload["document_id"] == expired["id"]
    ]
    assert (event.source, event.version, event.customer_id) == ("profile", 1, customer["id"])
    assert key == customer["id"]
    assert event.payload == {
        "customer_id": customer["id"],
        "document_id": expired["id"],
        "document_type": "residence_permit",
        "expires_on": in_days(-2),
        "status": "expired",
    }
    assert await announcements(profile, customer["id"]) == sorted(
        [(expiring_soon["id"], "expiring"), (expired["id"], "expired")]
    )

    # Time passes: the expiring document expires, and is announced once more, as expired.
    async with profile.engine.begin() as connection:
        await connection.execute(
            sa.text("UPDATE customer_documents SET expires_on = :day WHERE id = :id"),
            {"day": datetime.now(UTC).date() - timedelta(days=1), "id": expiring_soon["id"]},
        )
    await flag_expiring(profile)

    assert await announcements(profile, customer["id"]) == sorted(
        [(expiring_soon["id"], "expiring"), (expiring_soon["id"], "expired"), (expired["id"], "expired")]
    )


# --- Relationships ------------------------------------------------------------------------


async def link(client, customer_id: str, related_id: str, kind: str, headers: Mapping[str, str] = ADMIN, **extra):
    return await client.post(
        f"/api/v1/customers/{customer_id}/relationships",
        json={"related_customer_id": related_id, "type": kind, **extra},
        headers=headers,
    )


async def links_of(client, customer_id: str, headers: Mapping[str, str] = ADMIN) -> list[tuple]:
    response = await client.get(f"/api/v1/customers/{customer_id}/relationships", headers=headers)
    assert response.status_code == 200, response.text
    return [(r["type"], r["direction"], r["related_customer"]["id"]) for r in response.json()]


async def test_relationships_are_linked_listed_from_both_ends_and_removed(client):
    a = await create_customer(client, ADMIN, name="Li Wei", assets_under_management="600000.00")
    spouse, guarantor, parent = [await create_customer(client, ADMIN) for _ in range(3)]

    created = await link(client, a["id"], spouse["id"], "spouse", since="2015-10-01")

    assert created.status_code == 201, created.text
    assert created.json() == {
        "id": created.json()["id"],
        "type": "spouse",
        "direction": "outgoing",
        "related_customer": {"id": spouse["id"], "name": "Wang Fang", "tier": "mass", "lifecycle_stage": "prospect"},
        "since": "2015-10-01",
        "created_at": created.json()["created_at"],
    }
    assert (await link(client, a["id"], guarantor["id"], "guarantor")).status_code == 201
    assert (await link(client, a["id"], parent["id"], "parent")).status_code == 201

    assert await links_of(client, a["id"]) == [
        ("spouse", "outgoing", spouse["id"]),
        ("guarantor", "outgoing", guarantor["id"]),
        ("parent", "outgoing", parent["id"]),
    ]
    assert await links_of(client, spouse["id"]) == [("spouse", "outgoing", a["id"])]
    assert await links_of(client, guarantor["id"]) == [("guarantor", "incoming", a["id"])]
    assert await links_of(client, parent["id"]) == [("child", "outgoing", a["id"])]
    seen_by_spouse = (await client.get(f"/api/v1/customers/{spouse['id']}/relationships", headers=ADMIN)).json()
    assert seen_by_spouse[0]["related_customer"] == {
        "id": a["id"],
        "name": "Li Wei",
        "tier": "affluent",
        "lifecycle_stage": "prospect",
    }

    # The same link, recorded again from either end, is a conflict.
    for customer_id, related_id, kind in [
        (a["id"], spouse["id"], "spouse"),
        (spouse["id"], a["id"], "spouse"),
        (parent["id"], a["id"], "child"),
    ]:
        again = await link(client, customer_id, related_id, kind)
        assert again.status_code == 409 and again.headers["content-type"] == PROBLEM, (kind, again.text)
    assert (await link(client, a["id"], spouse["id"], "household_member")).status_code == 201

    unknown = await link(client, a["id"], str(uuid.uuid4()), "spouse")
    self_link = await link(client, a["id"], a["id"], "household_member")
    bad_type = await link(client, a["id"], spouse["id"], "cousin")
    assert (unknown.status_code, self_link.status_code, bad_type.status_code) == (404, 422, 422)
    assert self_link.headers["content-type"] == PROBLEM

    spouse_link = created.json()["id"]
    removed = await client.delete(f"/api/v1/customers/{spouse['id']}/relationships/{spouse_link}", headers=ADMIN)
    assert removed.status_code == 204, removed.text
    assert ("spouse", "outgoing", spouse["id"]) not in await links_of(client, a["id"])
    assert await links_of(client, spouse["id"]) == [("household_member", "outgoing", a["id"])]
    again = await client.delete(f"/api/v1/customers/{a['id']}/relationships/{spouse_link}", headers=ADMIN)
    assert again.status_code == 404
    guarantor_link = (await client.get(f"/api/v1/customers/{a['id']}/relationships", headers=ADMIN)).json()[0]
    elsewhere = await client.delete(
        f"/api/v1/customers/{parent['id']}/relationships/{guarantor_link['id']}", headers=ADMIN
    )
    assert elsewhere.status_code == 404
    assert len(await links_of(client, a["id"])) == 3


async def test_a_manager_links_only_customers_they_see_and_reads_nothing_of_others(client):
    manager = a_manager()
    own = await create_customer(client, manager)
    unmanaged = await create_customer(client, ADMIN)

    refused = await link(client, own["id"], unmanaged["id"], "spouse", headers=manager)
    assert refused.status_code == 404
    assert (await link(client, own["id"], unmanaged["id"], "spouse")).status_code == 201

    response = await client.get(f"/api/v1/customers/{own['id']}/relationships", headers=manager)
    assert response.status_code == 200
    assert response.json()[0]["related_customer"] == {
        "id": unmanaged["id"],
        "name": None,
        "tier": None,
        "lifecycle_stage": None,
    }
    listed = await client.get(f"/api/v1/customers/{unmanaged['id']}/relationships", headers=manager)
    assert listed.status_code == 404


# --- Audit and erasure --------------------------------------------------------------------


async def audit_rows(profile, customer_id: str) -> list[dict]:
    async with profile.engine.connect() as connection:
        return [
            dict(r)
            for r in (
                await connection.execute(
                    sa.text(
                        "SELECT actor, role, action, fields, reason FROM audit_log WHERE customer_id = :c ORDER BY id"
                    ),
                    {"c": customer_id},
                )
            ).mappings()
        ]


async def test_reads_and_changes_are_audited(profile, client):
    customer = await create_customer(client, ADMIN)
    other = await create_customer(client, ADMIN)
    officer = caller_headers("compliance_officer", "co-11", reason="KYC review 2291")
    await add_document(client, customer["id"])
    assert (await link(client, customer["id"], other["id"], "guarantor")).status_code == 201

    await list_documents(client, customer["id"], officer)
    await links_of(client, customer["id"], officer)

    rows = await audit_rows(profile, customer["id"])
    assert [r["action"] for r in rows if r["action"] != "create"] == [
        "document_add",
        "relationship_add",
        "document_list",
        "relationship_list",
    ]
    document_read = next(r for r in rows if r["action"] == "document_list")
    assert document_read == {
        "actor": "co-11",
        "role": "compliance_officer",
        "action": "document_list",
        "fields": "document_number,expires_on,issued_on,issuer,type",
        "reason": "KYC review 2291",
    }
    # The related customer's name, tier and stage were read too.
    related = [r for r in await audit_rows(profile, other["id"]) if r["actor"] == "co-11"]
    assert [(r["action"], r["fields"]) for r in related] == [
        ("relationship_list_related", "lifecycle_stage,name,tier"),
    ]


async def test_erasure_destroys_document_numbers_and_removes_links(profile, client):
    customer = await create_customer(client, ADMIN)
    spouse = await create_customer(client, ADMIN)
    document = await add_document(client, customer["id"])
    kept = await add_document(client, spouse["id"])
    assert (await link(client, spouse["id"], customer["id"], "spouse")).status_code == 201

    async with profile.sessions() as session, session.begin():
        await erase_documents_and_links(session, customer["id"])

    async with profile.engine.connect() as connection:
        numbers = dict(
            (
                await connection.execute(
                    sa.text(
                        "SELECT id, document_number IS NULL AND number_index IS NULL FROM customer_documents "
                        "WHERE id IN (:a, :b)"
                    ),
                    {"a": document["id"], "b": kept["id"]},
                )
            ).all()
        )
    assert numbers == {document["id"]: True, kept["id"]: False}
    assert await links_of(client, spouse["id"]) == []
