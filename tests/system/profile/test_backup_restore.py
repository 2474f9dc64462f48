"""Backup and restore drill (R2.3), as deploy/BACKUP.md tells operators to run it: a logical
dump of a profile database of its own holds no personal data in clear and no key material; it
restores into an emptied database, and the service reads everything back with the same keys,
its audit chain intact; with other keys the restored rows do not decrypt."""

import base64
import os
import re
import subprocess
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from services.kit import crypto
from services.kit.identity import caller_headers
from tests import databases
from tests.support import System, eventually, new_customer
from tests.system.profile.conftest import key_env

SCRIPTS = Path(__file__).resolve().parents[3] / "deploy" / "backup"
ADMIN = caller_headers("admin", "admin-b")
PERSONAL = ("name", "national_id", "phone", "email", "birth_date", "address")


def run_script(name: str, *args: str, database_url: str) -> subprocess.CompletedProcess:
    """A backup script against `database_url`, through the libpq variables it reads."""
    url = sa.engine.make_url(database_url)
    env = {
        **os.environ,
        "PGHOST": url.host or "",
        "PGPORT": str(url.port or 5432),
        "PGUSER": url.username or "",
        "PGDATABASE": url.database or "",
        **({"PGPASSWORD": url.password} if url.password else {}),
    }
    return subprocess.run([SCRIPTS / name, *args], env=env, capture_output=True, text=True, check=False)


def audit_chain(own: System, component: str) -> tuple[int, int]:
    """(sealed, awaiting sealing) from `crm verify-audit <component>`, which fails on a broken
    chain (or one short of a checkpoint it published)."""
    checked = own.run_cli("verify-audit", component).stdout
    found = re.search(r"chain intact \((\d+) sealed records, (\d+) awaiting", checked)
    assert found is not None, checked
    sealed, unsealed = found.groups()
    return int(sealed), int(unsealed)


async def assert_read_back(client, url: str, created: list[dict], bodies: list[dict]) -> None:
    """Each created customer reads back with its personal data in clear, and the last is found
    by its national ID's blind index."""
    for customer, body in zip(created, bodies, strict=True):
        read = await client.get(f"{url}/{customer['id']}", headers=ADMIN)
        assert read.status_code == 200, read.text
        assert {field: read.json()[field] for field in PERSONAL} == {field: body[field] for field in PERSONAL}
    found = await client.post(f"{url}/search", json={"national_id": bodies[-1]["national_id"]}, headers=ADMIN)
    assert [c["id"] for c in found.json()] == [created[-1]["id"]]


def ring_of(keys: dict[str, str]) -> crypto.KeyRing:
    """What a reader holding `keys` (the blind key included) can decrypt with."""
    sealing = {key_id: crypto.decode_key(key) for key_id, key in keys.items() if key_id != "blind"}
    return crypto.KeyRing(sealing, max(sealing), crypto.decode_key(keys["blind"]))


async def stored(database_url: str, customer_id: str, column: str) -> str:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            return await connection.scalar(
                sa.text(f"SELECT {column} FROM customers WHERE id = :id"), {"id": customer_id}
            )
    finally:
        await engine.dispose()


async def test_backup_and_restore_drill(own_profile, client, keys, tmp_path):
    own = own_profile
    database_url = own.database_urls["profile"]
    url = own.url("profile") + "/api/v1/customers"
    bodies = [
        new_customer(
            name=f"Qianmen Drillperson {i}",
            address=f"{i} Dazhalan West Street, Beijing",
            email=f"drill.{i}.{os.urandom(3).hex()}@example.cn",
        )
        for i in range(4)
    ]

    async def create(body: dict) -> dict:
        response = await client.post(url, json=body, headers=ADMIN)
        assert response.status_code == 201, response.text
        return response.json()

    # Rows sealed under two keys: k1, then (after a key change) k2; the dump needs both.
    created = [await create(body) for body in bodies[:2]]
    own.restart_component("profile", PROFILE_ACTIVE_KEY_ID="k2")
    created += [await create(body) for body in bodies[2:]]
    document_number = f"E{int.from_bytes(os.urandom(5)):012d}"
    document = await client.post(
        f"{url}/{created[0]['id']}/documents",
        headers=ADMIN,
        json={
            "type": "passport",
            "document_number": document_number,
            "issuer": "CN",
            "expires_on": "2031-01-01",
        },
    )
    assert document.status_code == 201, document.text

    def sealed_chain() -> int:
        sealed, unsealed = audit_chain(own, "profile")
        assert sealed > 0 and unsealed == 0
        return sealed

    sealed_before = await eventually(sealed_chain)

    # Back up: uncompressed, so the bytes read here are the data as stored.
    dump = tmp_path / "profile.dump"
    backup = run_script("backup.sh", "profile", str(dump), "--compress=0", database_url=database_url)
    assert backup.returncode == 0, backup.stderr  # e.g. pg_dump older than the server, explained there
    assert "needs encryption key ids: k1 k2 " in backup.stdout, backup.stdout
    content = dump.read_bytes()
    assert all(customer["id"].encode() in content for customer in created)  # the rows are there...
    assert b"k1:" in content and b"k2:" in content  # ...sealed under both keys
    for body in bodies:
        for field in PERSONAL:
            assert body[field].encode() not in content, field
    assert document_number.encode() not in content
    for key in keys.values():
        assert key.encode() not in content and base64.b64decode(key) not in content

    # Disaster: the database is lost. Restore into a new, empty one of the same name.
    own.stop_component("profile")
    await databases.recreate(prefix=own.database_prefix, components=["profile"])
    restored = run_script("restore.sh", "profile", str(dump), database_url=database_url)
    assert restored.returncode == 0, restored.stderr
    assert "sealed with key ids: k1 k2;" in restored.stdout, restored.stdout
    again = run_script("restore.sh", "profile", str(dump), database_url=database_url)
    assert again.returncode == 2 and "already has" in again.stderr  # never over live data

    # Same keys: everything reads back in clear, look-ups work, the audit chain is intact.
    own.run_cli("migrate", "profile")
    own.start_component("profile")
    own.wait_ready("profile")
    await assert_read_back(client, url, created, bodies)
    documents = (await client.get(f"{url}/{created[0]['id']}/documents", headers=ADMIN)).json()
    assert [d["document_number"] for d in documents] == [document_number]
    assert audit_chain(own, "profile")[0] >= sealed_before

    # Keys decide: the right ones open the restored values; others, or a missing id, do not.
    old = await stored(database_url, created[0]["id"], "name")  # sealed under k1
    new = await stored(database_url, created[2]["id"], "name")  # under k2
    assert (crypto.KeyRing.key_id_of(old), crypto.KeyRing.key_id_of(new)) == ("k1", "k2")
    assert ring_of(keys).decrypt(old, field="name") == bodies[0]["name"]
    others = {"k1": crypto.new_key(), "k2": crypto.new_key(), "blind": crypto.new_key()}
    with pytest.raises(crypto.UndecryptableValue, match="wrong key or altered"):
        ring_of(others).decrypt(old, field="name")
    without_k1 = {key_id: key for key_id, key in keys.items() if key_id != "k1"}
    with pytest.raises(crypto.UndecryptableValue, match="k1"):
        ring_of(without_k1).decrypt(old, field="name")
    assert ring_of(without_k1).decrypt(new, field="name") == bodies[2]["name"]

    own.restart_component("profile", **key_env(others, active="k2"))
    refused = await client.get(f"{url}/{created[2]['id']}", headers=ADMIN)
    assert refused.status_code == 503 and bodies[2]["name"] not in refused.text
    assert refused.json()["title"] == "Data unavailable"
