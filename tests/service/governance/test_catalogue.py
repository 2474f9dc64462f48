"""Each component serves its own part of the data catalogue, covering every column it stores
(key rotation, driven by the same catalogue: tests/service/feedback/test_key_rotation.py)."""

import pytest

from services.kit.catalogue import undeclared_columns
from services.kit.identity import GATEWAY_ROLE

SERVICES = ["profile", "consent", "recommendation", "churn", "feedback"]


@pytest.mark.parametrize("component", SERVICES)
async def test_each_component_serves_a_declaration_for_every_column(service, component):
    svc = await service(component)
    async with svc.client(GATEWAY_ROLE, "gateway") as http:  # the gateway merges them (gateway/local.py)
        answer = await http.get("/api/v1/data-declarations")
    assert answer.status_code == 200, answer.text
    served = {(f["table"], f["name"]) for f in answer.json()}
    stored = {(t.name, c.name) for t in svc.spec.metadata.sorted_tables for c in t.columns}
    assert stored <= served, sorted(stored - served)
    assert not undeclared_columns(svc.spec.catalogue, svc.spec.metadata)
    behaviour = [f for f in answer.json() if f["category"] == "behaviour"]
    assert all(f["retention_days"] == 730 for f in behaviour) and all(f["purpose"] for f in answer.json())
