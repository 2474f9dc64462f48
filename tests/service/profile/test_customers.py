"""Customers in the profile service, in process on PostgreSQL: encryption at rest, blind-index
look-up, declared fields, tiers and lifecycle, optimistic concurrency, cursor lists, bulk import,
the hash-chained audit trail (key rotation: test_key_rotation.py)."""

import json
import uuid

import pytest
import sqlalchemy as sa

from services.kit.identity import GATEWAY_ROLE, caller_headers
from services.profile.models import audit
from tests.service.profile.helpers import announced, create_customer
from tests.service.profile.test_imports import csv_file
from tests.support import new_customer

MANAGER = caller_headers("relationship_manager", "rm-7")
ADMIN = caller_headers("admin", "admin-1")
CUSTOMERS = "/api/v1/customers"


async def create(client, headers=ADMIN, **fields) -> dict:
    return await create_customer(client, headers, **fields)


async def all_text_in_database(engine) -> str:
    """Every value of every column of every table, as one string: what a database reader sees."""
    async with engine.connect() as connection:
        tables = await connection.run_sync(lambda c: sa.inspect(c).get_table_names())
        dump: list[str] = []
        for table in tables:
            rows = (await connection.execute(sa.text(f'SELECT * FROM "{table}"'))).all()
            dump.extend(str(value) for row in rows for value in row)
        return "\n".join(dump)


async def test_database_holds_no_personal_data_in_clear(profile, client):
    body = new_customer(name="Zhao Minghui", address="12 Lujiazui Ring Road, Shanghai", email="zhao.mh@example.cn")
    response = await client.post(CUSTOMERS, json=body, headers=ADMIN)
    assert response.status_code == 201
    customer = response.json()
    assert customer["national_id"] == body["national_id"]  # the API gives it back in clear

    dump = await all_text_in_database(profile.engine)
    assert customer["id"] in dump  # the read did see the row
    for field in ("name", "national_id", "phone", "email", "address", "birth_date"):
        assert body[field] not in dump, field
    # Not in any case either (a single word could occur by chance inside base64 ciphertext; two
    # words with their space cannot).
    for text in ("Zhao Minghui", "Lujiazui Ring Road"):
        assert text.upper() not in dump.upper(), text


async def test_lookup_by_national_id_or_phone_through_the_blind_index(client):
    customer = await create(client)
    by_id = await client.post(f"{CUSTOMERS}/search", json={"national_id": customer["national_id"]}, headers=ADMIN)
    assert [c["id"] for c in by_id.json()] == [customer["id"]]
    by_phone = await client.post(f"{CUSTOMERS}/search", json={"phone": customer["phone"]}, headers=ADMIN)
    assert [c["id"] for c in by_phone.json()] == [customer["id"]]
    nobody = await client.post(f"{CUSTOMERS}/search", json={"phone": "+8613000000000"}, headers=ADMIN)
    assert nobody.json() == []
    both = await client.post(f"{CUSTOMERS}/search", json={"phone": "13800000000", "national_id": "110"}, headers=ADMIN)
    assert both.status_code == 422


async def test_duplicate_national_id_is_a_conflict(client):
    customer = await create(client)
    again = await client.post(CUSTOMERS, json=new_customer(national_id=customer["national_id"]), headers=ADMIN)
    assert again.status_code == 409
    assert "national ID" in again.json()["detail"]
    assert customer["national_id"] not in again.text


async def test_undeclared_fields_are_refused_and_the_catalogue_is_served(client):
    undeclared = {**new_customer(), "religion": "none"}
    # The access policy lets no role set a field it does not list, at the service as at the gateway;
    response = await client.post(CUSTOMERS, json=undeclared, headers=ADMIN)
    assert response.status_code == 403
    assert response.json()["detail"] == "The role 'admin' may not set: religion."
    # and the model takes no field the catalogue does not declare, whoever sends it.
    response = await client.post(CUSTOMERS, json=undeclared, headers=caller_headers(GATEWAY_ROLE))
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["field"] == "religion" and "declared" in error["message"]

    declared = (await client.get("/api/v1/data-declarations")).json()
    names = {d["name"] for d in declared if d["table"] == "customers"}
    from services.profile.schemas import CustomerCreate

    assert set(CustomerCreate.model_fields) <= names  # nothing stored that is not declared
    categories = {d["category"] for d in declared}
    assert categories <= {"basic", "business", "risk", "behaviour", "operational"}
    restricted = {(d["table"], d["name"]) for d in declared if d["sensitivity"] == "restricted"}
    assert restricted == {
        ("customers", "national_id"),
        ("customers", "phone"),
        ("customer_documents", "document_number"),
    }


async def test_tier_follows_assets_and_re_tiering_is_announced(profile, client):
    customer = await create(client, assets_under_management="80000.00")
    assert customer["tier"] == "mass" and customer["service_plan"]["plan"] == "standard"
    richer = await client.patch(
        f"{CUSTOMERS}/{customer['id']}", json={"assets_under_management": "7500000"}, headers=ADMIN
    )
    assert richer.json()["tier"] == "high_net_worth"
    assert richer.json()["service_plan"]["dedicated_advisor"] is True
    [(event, key)] = await announced(profile, "customer.tier_changed", customer["id"])
    assert key == customer["id"]
    assert event.payload == {"customer_id": customer["id"], "previous_tier": "mass", "tier": "high_net_worth"}


async def test_lifecycle_moves_are_checked_and_kept(profile, client):
    customer = await create(client)
    lifecycle = f"{CUSTOMERS}/{customer['id']}/lifecycle"
    wrong = await client.post(lifecycle, json={"stage": "dormant", "reason": "x"}, headers=ADMIN)
    assert wrong.status_code == 409 and "onboarding" in wrong.json()["detail"]
    for stage in ("onboarding", "active", "dormant"):
        moved = await client.post(lifecycle, json={"stage": stage, "reason": f"to {stage}"}, headers=ADMIN)
        assert moved.status_code == 200 and moved.json()["lifecycle_stage"] == stage
    history = (await client.get(lifecycle, headers=ADMIN)).json()
    assert [(h["from_stage"], h["to_stage"]) for h in history] == [
        (None, "prospect"),
        ("prospect", "onboarding"),
        ("onboarding", "active"),
        ("active", "dormant"),
    ]
    changes = await announced(profile, "customer.lifecycle_changed", customer["id"])
    assert [(event.payload["stage"], key) for event, key in changes] == [
        ("onboarding", customer["id"]),
        ("active", customer["id"]),
        ("dormant", customer["id"]),
    ]


async def test_an_erasure_moves_the_customer_to_churned_and_announces_the_move_first(profile, client):
    customer = await create(client)
    lifecycle = f"{CUSTOMERS}/{customer['id']}/lifecycle"
    for stage in ("onboarding", "active"):
        moved = await client.post(lifecycle, json={"stage": stage, "reason": f"to {stage}"}, headers=ADMIN)
        assert moved.status_code == 200, moved.text
    erased = await client.post(f"{CUSTOMERS}/{customer['id']}/erasure", json={"reason": "asked"}, headers=ADMIN)
    assert erased.status_code == 202, erased.text

    *_, move, erasure = await profile.published(customer_id=customer["id"])  # in the order they go out
    assert (move.type, erasure.type) == ("customer.lifecycle_changed", "customer.erased")
    assert move.payload == {"customer_id": customer["id"], "previous_stage": "active", "stage": "churned"}


async def test_a_lifecycle_move_is_refused_to_another_manager_and_to_roles_that_may_not_move(profile, client):
    """The service keeps managers to their own customers, and refuses the roles the access policy
    does not let move a stage, the customer's own credential included, as the gateway does."""
    customer = await create(client, headers=MANAGER)
    lifecycle = f"{CUSTOMERS}/{customer['id']}/lifecycle"
    move = {"stage": "onboarding", "reason": "kyc"}
    other_manager = caller_headers("relationship_manager", "rm-8")
    assert (await client.post(lifecycle, json=move, headers=other_manager)).status_code == 404
    for role, subject in (("customer", customer["id"]), ("customer", "someone-else"), ("service_agent", "agent-1")):
        refused = await client.post(
            lifecycle,
            json=move,
            headers=caller_headers(role, subject, customer_scope=subject if role == "customer" else None),
        )
        assert refused.status_code == 403, (role, subject)
        assert (
            refused.json()["detail"]
            == f"The role '{role}' may not call POST /api/v1/customers/{{customer_id}}/lifecycle; "
            "these roles may: admin, relationship_manager."
        )
    history = (await client.get(lifecycle, headers=MANAGER)).json()
    assert [h["to_stage"] for h in history] == ["prospect"]  # nothing moved
    assert (await client.get(f"{CUSTOMERS}/{customer['id']}", headers=MANAGER)).json()["version"] == 1


async def test_managers_see_and_list_only_their_own_customers(client):
    mine = await create(client, headers=MANAGER)
    assert mine["relationship_manager_id"] == "rm-7"
    other = await create(client, headers=caller_headers("relationship_manager", "rm-8"))
    assert (await client.get(f"{CUSTOMERS}/{other['id']}", headers=MANAGER)).status_code == 404
    listed = (await client.get(CUSTOMERS, params={"limit": 500}, headers=MANAGER)).json()["items"]
    assert mine["id"] in {c["id"] for c in listed}
    assert {c["relationship_manager_id"] for c in listed} == {"rm-7"}


async def test_a_read_answers_what_the_create_answered_and_refuses_a_malformed_id(client):
    created = await create(client)

    read = await client.get(f"{CUSTOMERS}/{created['id']}", headers=ADMIN)
    malformed = await client.get(f"{CUSTOMERS}/{'9' * 65}", headers=ADMIN)

    assert read.status_code == 200 and read.headers["content-type"] == "application/json"
    assert read.json() == created
    assert malformed.status_code == 422 and malformed.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in malformed.json()["errors"]] == ["customer_id"]


async def test_a_customer_reads_their_own_record_and_no_one_elses(client):
    mine, other = await create(client), await create(client)
    me = caller_headers("customer", mine["id"], customer_scope=mine["id"])

    assert (await client.get(f"{CUSTOMERS}/{mine['id']}", headers=me)).json() == mine
    refused = await client.get(f"{CUSTOMERS}/{other['id']}", headers=me)
    assert refused.status_code == 404 and refused.headers["content-type"] == "application/problem+json"
    # Listing and searching the book are not a customer's routes (the access policy): refused
    # by the service as by the gateway.
    listed = await client.get(CUSTOMERS, params={"limit": 500}, headers=me)
    found = await client.post(f"{CUSTOMERS}/search", json={"national_id": other["national_id"]}, headers=me)
    assert (listed.status_code, found.status_code) == (403, 403)
    assert listed.json()["detail"] == (
        "The role 'customer' may not call GET /api/v1/customers; these roles may: admin, compliance_officer, "
        "relationship_manager."
    )


async def test_lost_update_is_refused_with_412(client):
    customer = await create(client)
    path = f"{CUSTOMERS}/{customer['id']}"
    first = await client.get(path, headers=ADMIN)
    etag = first.headers["etag"]
    ok = await client.patch(path, json={"address": "1 New Street"}, headers={**ADMIN, "If-Match": etag})
    assert ok.status_code == 200 and ok.headers["etag"] != etag
    stale = await client.patch(path, json={"address": "2 Old Street"}, headers={**ADMIN, "If-Match": etag})
    assert stale.status_code == 412
    assert (await client.get(path, headers=ADMIN)).json()["address"] == "1 New Street"


async def test_cursor_pagination_with_filters(client):
    manager_id = f"rm-{uuid.uuid4().hex[:6]}"
    manager = caller_headers("admin", manager_id)
    ids = {
        (await create(client, headers=manager, relationship_manager_id=manager_id, assets_under_management="700000"))[
            "id"
        ]
        for _ in range(5)
    }
    seen, after = [], None
    while True:
        params = {"manager": manager_id, "tier": "affluent", "limit": 2, **({"after": after} if after else {})}
        page = (await client.get(CUSTOMERS, params=params, headers=ADMIN)).json()
        seen += [c["id"] for c in page["items"]]
        after = page["next_cursor"]
        if after is None:
            break
    assert sorted(seen) == sorted(ids) and len(seen) == len(set(seen))


async def test_bulk_import_is_all_or_nothing_and_idempotent(client):
    rows = [new_customer(external_ref=f"CORE-{uuid.uuid4().hex[:10]}") for _ in range(3)]
    bad = [dict(rows[0]), {**rows[1], "assets_under_management": "-5"}, {**rows[2], "email": "not-an-email"}]
    csv_headers = {**ADMIN, "Content-Type": "text/csv"}

    rejected = await client.post(f"{CUSTOMERS}/imports", content=csv_file(bad), headers=csv_headers)
    assert rejected.status_code == 422
    assert [(e["line"], e["reason"].split(":")[0]) for e in rejected.json()["errors"]] == [
        (3, "assets_under_management"),
        (4, "email"),
    ]
    found = await client.post(f"{CUSTOMERS}/search", json={"national_id": rows[0]["national_id"]}, headers=ADMIN)
    assert found.json() == []

    first = await client.post(f"{CUSTOMERS}/imports", content=csv_file(rows), headers=csv_headers)
    assert first.json() == {"rows": 3, "created": 3, "skipped_existing": 0}
    again = await client.post(f"{CUSTOMERS}/imports", content=csv_file(rows), headers=csv_headers)
    assert again.json() == {"rows": 3, "created": 0, "skipped_existing": 3}

    jsonl = "\n".join(json.dumps(r) for r in [new_customer(external_ref=f"J-{uuid.uuid4().hex[:8]}"), {"name": 1}, "x"])
    lines = await client.post(
        f"{CUSTOMERS}/imports", content=jsonl, headers={**ADMIN, "Content-Type": "application/x-ndjson"}
    )
    assert lines.status_code == 422
    assert [e["line"] for e in lines.json()["errors"]] == [2, 3]


async def test_audit_trail_records_reads_and_catches_tampering(profile, client):
    customer = await create(client)
    await client.get(f"{CUSTOMERS}/{customer['id']}", headers=caller_headers("admin", "admin-1", reason="audit test"))
    while await audit.seal_pending(profile.engine):  # what the served process's sealer does
        pass

    page = (await client.get("/api/v1/audit-records", params={"customer_id": customer["id"]})).json()
    actions = [(r["action"], r["actor"], r["reason"]) for r in page["items"]]
    assert ("read", "admin-1", "audit test") in actions and ("create", "admin-1", None) in actions
    assert all(r["hash"] for r in page["items"])  # sealed into the chain
    records = page["items"]
    assert (await audit.verify(profile.engine)).intact

    engine = profile.engine
    try:
        async with engine.begin() as connection:
            with pytest.raises(sa.exc.DBAPIError, match="append-only"):
                await connection.execute(sa.text("DELETE FROM audit_log WHERE id = :i"), {"i": records[0]["id"]})
        async with engine.begin() as connection:
            # A DBA bypasses the guard and edits history; the chain still tells.
            await connection.execute(sa.text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
            await connection.execute(
                sa.text("UPDATE audit_log SET actor = 'someone-else' WHERE id = :i"), {"i": records[0]["id"]}
            )
        broken = await audit.verify(engine)
        assert not broken.intact and "altered" in (broken.problem or "")
    finally:
        async with engine.begin() as connection:
            await connection.execute(
                sa.text("UPDATE audit_log SET actor = 'admin-1' WHERE id = :i"), {"i": records[0]["id"]}
            )
            await connection.execute(sa.text("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only"))
    assert (await audit.verify(engine)).intact
