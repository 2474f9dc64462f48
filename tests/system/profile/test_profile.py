"""Profile against PostgreSQL: encryption at rest, blind-index look-up, declared fields, tiers
and lifecycle, optimistic concurrency, cursor lists, bulk import, the hash-chained audit trail,
key rotation."""

import csv
import io
import json
import subprocess
import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from services.kit.identity import caller_headers
from tests.support import eventually, new_customer

MANAGER = caller_headers("relationship_manager", "rm-7")
ADMIN = caller_headers("admin", "admin-1")


@pytest.fixture
def url(system):
    return system.url("profile") + "/api/v1/customers"


async def create(client, url, headers=ADMIN, **fields) -> dict:
    response = await client.post(url, json=new_customer(**fields), headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


async def all_text_in_database(database_url: str) -> str:
    """Every value of every column of every table, as one string: what a database reader sees."""
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            tables = await connection.run_sync(lambda c: sa.inspect(c).get_table_names())
            dump: list[str] = []
            for table in tables:
                rows = (await connection.execute(sa.text(f'SELECT * FROM "{table}"'))).all()
                dump.extend(str(value) for row in rows for value in row)
            return "\n".join(dump)
    finally:
        await engine.dispose()


async def test_database_holds_no_personal_data_in_clear(system, client, url):
    body = new_customer(name="Zhao Minghui", address="12 Lujiazui Ring Road, Shanghai", email="zhao.mh@example.cn")
    response = await client.post(url, json=body, headers=ADMIN)
    assert response.status_code == 201
    customer = response.json()
    assert customer["national_id"] == body["national_id"]  # the API gives it back in clear

    dump = await all_text_in_database(system.database_urls["profile"])
    assert customer["id"] in dump  # the read did see the row
    for field in ("name", "national_id", "phone", "email", "address", "birth_date"):
        assert body[field] not in dump, field
    assert "Zhao" not in dump and "Lujiazui" not in dump


async def test_lookup_by_national_id_or_phone_through_the_blind_index(client, url):
    customer = await create(client, url)
    by_id = await client.post(f"{url}/search", json={"national_id": customer["national_id"]}, headers=ADMIN)
    assert [c["id"] for c in by_id.json()] == [customer["id"]]
    by_phone = await client.post(f"{url}/search", json={"phone": customer["phone"]}, headers=ADMIN)
    assert [c["id"] for c in by_phone.json()] == [customer["id"]]
    nobody = await client.post(f"{url}/search", json={"phone": "+8613000000000"}, headers=ADMIN)
    assert nobody.json() == []
    both = await client.post(f"{url}/search", json={"phone": "13800000000", "national_id": "110"}, headers=ADMIN)
    assert both.status_code == 422


async def test_duplicate_national_id_is_a_conflict(client, url):
    customer = await create(client, url)
    again = await client.post(url, json=new_customer(national_id=customer["national_id"]), headers=ADMIN)
    assert again.status_code == 409
    assert "national ID" in again.json()["detail"]
    assert customer["national_id"] not in again.text


async def test_undeclared_fields_are_refused_and_the_catalogue_is_served(system, client, url):
    response = await client.post(url, json={**new_customer(), "religion": "none"}, headers=ADMIN)
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["field"] == "religion" and "declared" in error["message"]

    declared = (await client.get(system.url("profile") + "/api/v1/data-declarations")).json()
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


async def test_tier_follows_assets_and_re_tiering_is_announced(client, url, kafka):
    customer = await create(client, url, assets_under_management="80000.00")
    assert customer["tier"] == "mass" and customer["service_plan"]["plan"] == "standard"
    richer = await client.patch(f"{url}/{customer['id']}", json={"assets_under_management": "7500000"}, headers=ADMIN)
    assert richer.json()["tier"] == "high_net_worth"
    assert richer.json()["service_plan"]["dedicated_advisor"] is True
    [(event, _)] = await kafka.wait_for(
        "crm.customer", lambda e, h: e.customer_id == customer["id"] and e.type == "customer.tier_changed"
    )
    assert event.payload == {"customer_id": customer["id"], "previous_tier": "mass", "tier": "high_net_worth"}


async def test_lifecycle_moves_are_checked_and_kept(client, url, kafka):
    customer = await create(client, url)
    wrong = await client.post(
        f"{url}/{customer['id']}/lifecycle", json={"stage": "dormant", "reason": "x"}, headers=ADMIN
    )
    assert wrong.status_code == 409 and "onboarding" in wrong.json()["detail"]
    for stage in ("onboarding", "active", "dormant"):
        moved = await client.post(
            f"{url}/{customer['id']}/lifecycle", json={"stage": stage, "reason": f"to {stage}"}, headers=ADMIN
        )
        assert moved.status_code == 200 and moved.json()["lifecycle_stage"] == stage
    history = (await client.get(f"{url}/{customer['id']}/lifecycle", headers=ADMIN)).json()
    assert [(h["from_stage"], h["to_stage"]) for h in history] == [
        (None, "prospect"),
        ("prospect", "onboarding"),
        ("onboarding", "active"),
        ("active", "dormant"),
    ]
    await kafka.wait_for(
        "crm.customer", lambda e, h: e.customer_id == customer["id"] and e.type == "customer.lifecycle_changed", count=3
    )


async def test_managers_see_and_list_only_their_own_customers(client, url):
    mine = await create(client, url, headers=MANAGER)
    assert mine["relationship_manager_id"] == "rm-7"
    other = await create(client, url, headers=caller_headers("relationship_manager", "rm-8"))
    assert (await client.get(f"{url}/{other['id']}", headers=MANAGER)).status_code == 404
    listed = (await client.get(url, params={"limit": 500}, headers=MANAGER)).json()["items"]
    assert mine["id"] in {c["id"] for c in listed}
    assert {c["relationship_manager_id"] for c in listed} == {"rm-7"}


async def test_lost_update_is_refused_with_412(client, url):
    customer = await create(client, url)
    first = await client.get(f"{url}/{customer['id']}", headers=ADMIN)
    etag = first.headers["etag"]
    ok = await client.patch(
        f"{url}/{customer['id']}", json={"address": "1 New Street"}, headers={**ADMIN, "If-Match": etag}
    )
    assert ok.status_code == 200 and ok.headers["etag"] != etag
    stale = await client.patch(
        f"{url}/{customer['id']}", json={"address": "2 Old Street"}, headers={**ADMIN, "If-Match": etag}
    )
    assert stale.status_code == 412
    assert (await client.get(f"{url}/{customer['id']}", headers=ADMIN)).json()["address"] == "1 New Street"


async def test_cursor_pagination_with_filters(client, url):
    manager_id = f"rm-{uuid.uuid4().hex[:6]}"
    manager = caller_headers("admin", manager_id)
    ids = {
        (
            await create(
                client, url, headers=manager, relationship_manager_id=manager_id, assets_under_management="700000"
            )
        )["id"]
        for _ in range(5)
    }
    seen, after = [], None
    while True:
        params = {"manager": manager_id, "tier": "affluent", "limit": 2, **({"after": after} if after else {})}
        page = (await client.get(url, params=params, headers=ADMIN)).json()
        seen += [c["id"] for c in page["items"]]
        after = page["next_cursor"]
        if after is None:
            break
    assert sorted(seen) == sorted(ids) and len(seen) == len(set(seen))


def csv_file(rows: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


async def test_bulk_import_is_all_or_nothing_and_idempotent(client, url):
    rows = [new_customer(external_ref=f"CORE-{uuid.uuid4().hex[:10]}") for _ in range(3)]
    bad = [dict(rows[0]), {**rows[1], "assets_under_management": "-5"}, {**rows[2], "email": "not-an-email"}]
    bad[0]["external_ref"] = rows[0]["external_ref"]
    csv_headers = {**ADMIN, "Content-Type": "text/csv"}

    rejected = await client.post(f"{url}/imports", content=csv_file(bad), headers=csv_headers)
    assert rejected.status_code == 422
    assert [(e["line"], e["reason"].split(":")[0]) for e in rejected.json()["errors"]] == [
        (3, "assets_under_management"),
        (4, "email"),
    ]
    assert (
        await client.post(f"{url}/search", json={"national_id": rows[0]["national_id"]}, headers=ADMIN)
    ).json() == []

    first = await client.post(f"{url}/imports", content=csv_file(rows), headers=csv_headers)
    assert first.json() == {"rows": 3, "created": 3, "skipped_existing": 0}
    again = await client.post(f"{url}/imports", content=csv_file(rows), headers=csv_headers)
    assert again.json() == {"rows": 3, "created": 0, "skipped_existing": 3}

    jsonl = "\n".join(json.dumps(r) for r in [new_customer(external_ref=f"J-{uuid.uuid4().hex[:8]}"), {"name": 1}, "x"])
    lines = await client.post(
        f"{url}/imports", content=jsonl, headers={**ADMIN, "Content-Type": "application/x-ndjson"}
    )
    assert lines.status_code == 422
    assert [e["line"] for e in lines.json()["errors"]] == [2, 3]


async def test_audit_trail_records_reads_and_catches_tampering(system, client, url):
    customer = await create(client, url)
    await client.get(f"{url}/{customer['id']}", headers=caller_headers("admin", "admin-1", reason="audit test"))

    async def recorded():
        page = (
            await client.get(system.url("profile") + "/api/v1/audit-records", params={"customer_id": customer["id"]})
        ).json()
        actions = [(r["action"], r["actor"], r["reason"]) for r in page["items"]]
        assert ("read", "admin-1", "audit test") in actions and ("create", "admin-1", None) in actions
        assert all(r["hash"] for r in page["items"])  # sealed into the chain
        return page["items"]

    records = await eventually(recorded)
    assert system.run_cli("verify-audit", "profile").returncode == 0

    engine = create_async_engine(system.database_urls["profile"])
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
        with pytest.raises(subprocess.CalledProcessError) as broken:
            system.run_cli("verify-audit", "profile")
        assert "BROKEN" in broken.value.stdout and "altered" in broken.value.stdout
    finally:
        async with engine.begin() as connection:
            await connection.execute(
                sa.text("UPDATE audit_log SET actor = 'admin-1' WHERE id = :i"), {"i": records[0]["id"]}
            )
            await connection.execute(sa.text("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only"))
        await engine.dispose()
    assert system.run_cli("verify-audit", "profile").returncode == 0


async def test_key_rotation_re_encrypts_everything_and_keeps_it_readable(own_profile, keys, client):
    own = own_profile
    url = own.url("profile") + "/api/v1/customers"
    created = [await create(client, url) for _ in range(7)]

    # Operators make k2 active (replicas restarted), then run the rotation online.
    own.restart_component("profile", PROFILE_ACTIVE_KEY_ID="k2")
    assert "profile: 7 customers rows re-encrypted" in own.run_cli("rotate-keys", "profile").stdout

    engine = create_async_engine(own.database_urls["profile"])
    try:
        async with engine.connect() as connection:
            rows = (await connection.execute(sa.text("SELECT key_id, national_id, phone FROM customers"))).all()
    finally:
        await engine.dispose()
    assert {row.key_id for row in rows} == {"k2"}
    assert all(row.national_id.startswith("k2:") and row.phone.startswith("k2:") for row in rows)

    # The old key can now go: with k2 alone every customer still reads back, look-ups included.
    own.restart_component("profile", PROFILE_ENCRYPTION_KEYS=json.dumps({"k2": keys["k2"]}))
    for customer in created:
        read = (await client.get(f"{url}/{customer['id']}", headers=ADMIN)).json()
        assert (read["national_id"], read["phone"], read["name"]) == (
            customer["national_id"],
            customer["phone"],
            customer["name"],
        )
    found = await client.post(f"{url}/search", json={"phone": created[0]["phone"]}, headers=ADMIN)
    assert [c["id"] for c in found.json()] == [created[0]["id"]]
