"""Key rotation in the profile service: the app started with the new key active (as replicas are
restarted), `crm rotate-keys profile` (its entry point, in this process) re-encrypts every
customer row, and the app started with the new key alone reads every customer back, look-ups
included."""

import asyncio
import json

import pytest
import sqlalchemy as sa

from services import cli
from services.kit import crypto
from services.kit.identity import caller_headers
from tests.service.conftest import PREFIX, ServiceDatabases
from tests.service.profile.helpers import create_customer

ADMIN = caller_headers("admin", "admin-1")
K1, K2, BLIND = crypto.new_key(), crypto.new_key(), crypto.new_key()


@pytest.fixture(scope="module")
def service_databases() -> ServiceDatabases:
    """A profile database of this module's own: rows other tests sealed under the development key
    would not open with this module's keys."""
    return ServiceDatabases(prefix=f"{PREFIX}_rotation")


def key_env(keys: dict[str, str], *, active: str) -> dict[str, str]:
    return {
        "PROFILE_ENCRYPTION_KEYS": json.dumps(keys),
        "PROFILE_ACTIVE_KEY_ID": active,
        "PROFILE_BLIND_INDEX_KEY": BLIND,
    }


async def test_key_rotation_re_encrypts_everything_and_keeps_it_readable(service, monkeypatch, capsys):
    monkeypatch.setattr(crypto, "_installed", crypto._installed)  # the process's key ring, put back after
    profile = await service("profile", **key_env({"k1": K1, "k2": K2}, active="k1"))
    async with profile.client() as client:
        created = [await create_customer(client, ADMIN) for _ in range(7)]

    # Operators make k2 active (replicas restarted), then run the rotation online.
    k2_active = key_env({"k1": K1, "k2": K2}, active="k2")
    restarted = await service("profile", **k2_active)
    for name, value in k2_active.items():
        monkeypatch.setenv(name, value)
    capsys.readouterr()
    await asyncio.to_thread(cli.main, ["rotate-keys", "profile"])  # it runs its own event loop
    assert "profile: 7 customers rows re-encrypted" in capsys.readouterr().out

    async with restarted.engine.connect() as connection:
        rows = (await connection.execute(sa.text("SELECT key_id, national_id, phone FROM customers"))).all()
    assert len(rows) == 7 and {row.key_id for row in rows} == {"k2"}
    assert all(row.national_id.startswith("k2:") and row.phone.startswith("k2:") for row in rows)

    # The old key can now go: with k2 alone every customer still reads back, look-ups included.
    only_k2 = await service("profile", **key_env({"k2": K2}, active="k2"))
    async with only_k2.client() as client:
        for customer in created:
            read = (await client.get(f"/api/v1/customers/{customer['id']}", headers=ADMIN)).json()
            assert (read["national_id"], read["phone"], read["name"]) == (
                customer["national_id"],
                customer["phone"],
                customer["name"],
            )
        found = await client.post("/api/v1/customers/search", json={"phone": created[0]["phone"]}, headers=ADMIN)
    assert [c["id"] for c in found.json()] == [created[0]["id"]]
