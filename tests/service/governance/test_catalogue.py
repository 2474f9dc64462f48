"""Each component serves its own part of the data catalogue, covering every column it stores;
key rotation re-encrypts whatever the catalogue declares encrypted."""

import json
import uuid

import pytest
import sqlalchemy as sa

from services.kit import crypto
from services.kit.catalogue import undeclared_columns
from services.kit.rotation import rotate_component

SERVICES = ["profile", "consent", "recommendation", "churn", "feedback"]


@pytest.mark.parametrize("component", SERVICES)
async def test_each_component_serves_a_declaration_for_every_column(service, component):
    svc = await service(component)
    async with svc.client("service_agent", "agent-1") as http:
        answer = await http.get("/api/v1/data-declarations")
    assert answer.status_code == 200, answer.text
    served = {(f["table"], f["name"]) for f in answer.json()}
    stored = {(t.name, c.name) for t in svc.spec.metadata.sorted_tables for c in t.columns}
    assert stored <= served, sorted(stored - served)
    assert not undeclared_columns(svc.spec.catalogue, svc.spec.metadata)
    behaviour = [f for f in answer.json() if f["category"] == "behaviour"]
    assert all(f["retention_days"] == 730 for f in behaviour) and all(f["purpose"] for f in answer.json())


async def test_rotation_re_encrypts_every_declared_encrypted_field_of_feedback(service):
    feedback = await service("feedback")
    current = feedback.spec.settings  # every row stored so far is sealed under these keys
    old = current.active_key_id
    customer_id = str(uuid.uuid4())
    async with feedback.client("customer", customer_id) as http:
        assert (await http.post("/api/v1/feedback", json={"customer_id": customer_id, "survey": "csat", "score": 2,
                                                          "channel": "web", "comment": "rude"})).status_code == 201
        assert (await http.post("/api/v1/complaints", json={"customer_id": customer_id, "category": "fees",
                                                            "channel": "web", "description": "twice"})).status_code == 201

    async def stored() -> list[str]:
        async with feedback.engine.connect() as connection:
            return [value for table, column in (("feedback", "comment"), ("complaints", "description"))
                    for value in await connection.scalars(sa.text(
                        f"SELECT {column} FROM {table} WHERE customer_id = :c"), {"c": customer_id})]

    assert all(value.startswith(f"{old}:") for value in await stored())
    rotated = await service("feedback", FEEDBACK_ENCRYPTION_KEYS=json.dumps({**current.encryption_keys,
                                                                              "k2": crypto.new_key()}),
                            FEEDBACK_ACTIVE_KEY_ID="k2", FEEDBACK_BLIND_INDEX_KEY=current.blind_index_key)
    done = await rotate_component(rotated.spec)
    assert done["feedback"] >= 1 and done["complaints"] >= 1
    assert all(value.startswith("k2:") for value in await stored())
    assert await rotate_component(rotated.spec) == {"feedback": 0, "complaints": 0}
    keys = rotated.spec.settings.keyring()
    assert {keys.decrypt(v, field=f) for v, f in zip(await stored(), ("comment", "description"))} == {"rude", "twice"}
