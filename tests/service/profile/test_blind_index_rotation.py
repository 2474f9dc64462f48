"""Rotation of the blind-index key in the profile service: with the new key current and the old
one still matched, look-ups and duplicate checks (create, import, documents) miss nothing;
`crm rotate-keys profile` re-computes every hash under the new key, and the old key can go."""

import asyncio
import csv
import io
import json
import uuid

import pytest
import sqlalchemy as sa

from services import cli
from services.kit import crypto
from services.kit.identity import caller_headers
from tests.service.conftest import PREFIX, ServiceDatabases
from tests.service.profile.helpers import create_customer
from tests.support import new_customer

ADMIN = caller_headers("admin", "admin-1")
K1 = crypto.new_key()


@pytest.fixture(scope="module")
def service_databases() -> ServiceDatabases:
    """A profile database of this module's own, every row sealed and hashed under its keys."""
    return ServiceDatabases(prefix=f"{PREFIX}_blind_rotation")


def blind_env(current: str, previous: list[str] | None = None) -> dict[str, str]:
    env = {
        "PROFILE_ENCRYPTION_KEYS": json.dumps({"k1": K1}),
        "PROFILE_ACTIVE_KEY_ID": "k1",
        "PROFILE_BLIND_INDEX_KEY": current,
    }
    if previous is not None:
        env["PROFILE_PREVIOUS_BLIND_INDEX_KEYS"] = json.dumps(previous)
    return env


async def _stale_indexes(profile, keys: crypto.KeyRing) -> int:
    """Customers whose national ID hash is not the one under the current blind-index key."""
    async with profile.engine.connect() as connection:
        rows = (await connection.execute(sa.text("SELECT national_id, national_id_index FROM customers"))).all()
    return sum(
        keys.blind_index(keys.decrypt(row.national_id, field="national_id"), field="national_id")
        != row.national_id_index
        for row in rows
    )


async def test_blind_index_key_rotation_keeps_look_ups_and_duplicate_checks_then_re_indexes_every_row(
    service, monkeypatch, capsys
):
    monkeypatch.setattr(crypto, "_installed", crypto._installed)
    old_blind, new_blind = crypto.new_key(), crypto.new_key()
    document = {
        "type": "passport",
        "document_number": "E123456789",
        "issuer": "CN",
        "issued_on": "2020-03-01",
        "expires_on": "2031-03-01",
    }
    before = await service("profile", **blind_env(old_blind))
    async with before.client() as client:
        created = [await create_customer(client, ADMIN) for _ in range(4)]
        documents = f"/api/v1/customers/{created[0]['id']}/documents"
        assert (await client.post(documents, json=document, headers=ADMIN)).status_code == 201

    # The new key is current on every replica, the old one still matched: nothing is missed while
    # the rows still hold their old hashes.
    rotating_env = blind_env(new_blind, [old_blind])
    rotating = await service("profile", **rotating_env)
    async with rotating.client() as client:
        found = await client.post("/api/v1/customers/search", json={"phone": created[1]["phone"]}, headers=ADMIN)
        assert [c["id"] for c in found.json()] == [created[1]["id"]]
        same_person = {"national_id": created[2]["national_id"]}
        duplicate = await client.post("/api/v1/customers", json=new_customer(**same_person), headers=ADMIN)
        assert duplicate.status_code == 409, duplicate.text
        again = await client.post(f"/api/v1/customers/{created[3]['id']}/documents", json=document, headers=ADMIN)
        assert again.status_code == 409, again.text
        row = new_customer(external_ref=f"ROT-{uuid.uuid4().hex[:8]}", **same_person)
        content = io.StringIO()
        writer = csv.DictWriter(content, fieldnames=list(row))
        writer.writeheader()
        writer.writerow(row)
        imported = await client.post(
            "/api/v1/customers/imports", content=content.getvalue(), headers={**ADMIN, "content-type": "text/csv"}
        )
        assert imported.status_code == 422 and "already exists" in imported.text, imported.text
        newcomer = await create_customer(client, ADMIN)  # written under the new key at once
    keys = crypto.KeyRing({"k1": crypto.decode_key(K1)}, "k1", crypto.decode_key(new_blind))
    assert await _stale_indexes(rotating, keys) == 4

    for name, value in rotating_env.items():
        monkeypatch.setenv(name, value)
    capsys.readouterr()
    await asyncio.to_thread(cli.main, ["rotate-keys", "profile"])
    out = capsys.readouterr().out
    assert "profile: 4 customers rows re-indexed under the current blind-index key" in out
    assert "profile: 1 customer_documents rows re-indexed" in out
    await asyncio.to_thread(cli.main, ["rotate-keys", "profile"])
    assert "profile: 0 customers rows re-indexed" in capsys.readouterr().out
    assert await _stale_indexes(rotating, keys) == 0

    # The old key can go: look-ups and duplicate checks hold on the new hashes alone.
    after = await service("profile", **blind_env(new_blind))
    async with after.client() as client:
        for customer in (created[1], newcomer):
            found = await client.post("/api/v1/customers/search", json={"phone": customer["phone"]}, headers=ADMIN)
            assert [c["id"] for c in found.json()] == [customer["id"]]
        duplicate = await client.post("/api/v1/customers", json=new_customer(**same_person), headers=ADMIN)
        assert duplicate.status_code == 409
        again = await client.post(f"/api/v1/customers/{created[3]['id']}/documents", json=document, headers=ADMIN)
        assert again.status_code == 409
