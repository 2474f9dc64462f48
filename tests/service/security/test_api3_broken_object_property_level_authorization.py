"""OWASP API3:2023 Broken Object Property Level Authorization, at the services: on each route
with write rules in the access policy (`writable`), a service lets a role set only the fields the
policy lets it set there, as the gateway does (services/kit/access.py; the gateway's own tests:
tests/unit/security/test_api3_broken_object_property_level_authorization.py)."""

import re

import pytest

from gateway.policy import load_policy
from services.kit.settings import ComponentSettings

POLICY = load_policy(ComponentSettings().access_policy_file)
WITH_WRITE_RULES = sorted({route.upstream for route in POLICY.routes if route.writable is not None})


def test_the_policy_has_write_rules_for_services_to_hold_to():
    assert WITH_WRITE_RULES == ["churn", "consent", "feedback", "profile", "recommendation"]


@pytest.mark.parametrize("component", WITH_WRITE_RULES)
async def test_every_write_route_refuses_fields_the_role_may_not_set_and_writes_nothing(service, component):
    svc = await service(component)
    route_roles = svc.app.state.route_roles
    assert route_roles.writable
    before = await svc.published()
    for (method, path), rules in route_roles.writable.items():
        url = re.sub(r"\{[^}]+\}", "c-fields-1", path)
        for role in sorted(route_roles.grants[(method, path)]):
            scope = "c-fields-1" if role in POLICY.self_scoped_roles else None
            # Each field the policy does not let this role set here, and one no route declares.
            refused = sorted([name for name, roles in rules.items() if role not in roles] + ["religion"])
            allowed = sorted(name for name, roles in rules.items() if role in roles)
            async with svc.client(role, "c-fields-1", customer_scope=scope) as http:
                answer = await http.request(method, url, json=dict.fromkeys(refused + allowed, "x"))
                assert answer.status_code == 403, (role, method, path, answer.text)
                assert answer.headers["content-type"] == "application/problem+json"
                assert answer.json()["detail"] == f"The role '{role}' may not set: {', '.join(refused)}.", answer.text
                if allowed:  # fields it may set pass this check (the dummy values then earn a 4xx)
                    answer = await http.request(method, url, json=dict.fromkeys(allowed, "x"))
                    assert answer.status_code != 403 or "may not set" not in answer.json()["detail"], (role, path)
    assert await svc.published() == before  # nothing refused left an event
