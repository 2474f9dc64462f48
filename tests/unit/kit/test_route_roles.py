"""The access policy as each service reads it (services/kit/access.py). A service refuses to
start on a policy that grants roles on a route it does not serve: a mistyped path would
otherwise leave the real route to the gateway alone, refused to every person. Where several of
the policy's routes lead to one route of a service, their write rules add up."""

from typing import get_args

import pytest
import yaml
from pydantic import BaseModel

from gateway.policy import POLICY_FILE, Policy, load_policy
from services.components import spec_of
from services.kit.access import RouteRoles
from services.kit.app import build_app
from services.kit.identity import GATEWAY_ROLE
from services.kit.problems import Problem
from tests.support import served_routes


def test_the_shipped_policy_names_only_routes_each_service_serves():
    for component in ("profile", "consent", "recommendation", "churn", "feedback"):
        build_app(spec_of(component), background=False)


def test_a_policy_naming_a_route_the_service_does_not_serve_stops_it_from_starting(tmp_path, monkeypatch):
    document = yaml.safe_load(POLICY_FILE.read_text())
    document["routes"].append(
        {
            "method": "POST",
            "path": "/api/v1/customers/{customer_id}/lifecycles",
            "upstream": "profile",
            "customer_param": "customer_id",
            "roles": ["admin"],
        }
    )
    policy = tmp_path / "policy.yaml"
    policy.write_text(yaml.safe_dump(document))
    monkeypatch.setenv("CRM_ACCESS_POLICY_FILE", str(policy))
    with pytest.raises(
        ValueError, match=r"profile service does not serve: POST /api/v1/customers/\{customer_id\}/lifecycles"
    ):
        build_app(spec_of("profile"), background=False)


def _with_route(extra: dict):
    """The shipped policy and one more of its routes leading to profile's customer update."""
    document = yaml.safe_load(POLICY_FILE.read_text())
    document["routes"].append(
        {
            "method": "PATCH",
            "path": "/api/v1/branch/customers/{customer_id}",
            "upstream": "profile",
            "upstream_path": "/api/v1/customers/{customer_id}",
            "customer_param": "customer_id",
            "roles": ["service_agent"],
            **extra,
        }
    )
    return RouteRoles.of(Policy.model_validate(document), "profile")


def test_write_rules_of_several_routes_to_one_service_route_add_up():
    """A field is settable by a role if any route leading there lets the role set it."""
    roles = _with_route({"writable": {"name": ["service_agent"], "occupation": ["service_agent"]}})
    update = ("PATCH", "/api/v1/customers/{customer_id}")
    roles.check_fields("service_agent", *update, {"occupation": "teacher", "name": "A"})
    with pytest.raises(Problem, match=r"The role 'service_agent' may not set: assets_under_management\."):
        roles.check_fields("service_agent", *update, {"occupation": "teacher", "assets_under_management": "1"})
    with pytest.raises(Problem, match=r"The role 'customer' may not set: occupation\."):
        roles.check_fields("customer", *update, {"occupation": "teacher", "phone": "+41000000000"})
    assert not roles.checks_fields(GATEWAY_ROLE, *update)  # the gateway's own calls are not held to them


def test_a_route_without_write_rules_leaves_its_service_route_unrestricted():
    roles = _with_route({})
    assert not roles.checks_fields("admin", "PATCH", "/api/v1/customers/{customer_id}")
    assert roles.checks_fields("admin", "POST", "/api/v1/customers")
    assert not roles.checks_fields(GATEWAY_ROLE, "POST", "/api/v1/customers")


def _body_fields(route) -> set[str] | None:
    """The fields of a route's JSON body model (None: the route takes no JSON body)."""
    body = route.body_field
    if body is None:
        return None
    annotation = body.field_info.annotation
    (model,) = [a for a in (get_args(annotation) or (annotation,)) if isinstance(a, type) and issubclass(a, BaseModel)]
    return set(model.model_fields)


def test_every_route_taking_a_json_body_says_which_roles_may_set_each_of_its_fields():
    """Every writable field says which roles may write it: each route of the policy whose
    service route takes a JSON body lists exactly that body's fields in `writable` (the
    token-bearer route, called by no role, takes its credential in the body instead)."""
    policy = load_policy(POLICY_FILE)
    missing, differing = [], []
    for component in ("profile", "consent", "recommendation", "churn", "feedback"):
        app = build_app(spec_of(component), background=False)
        served = served_routes(app)
        for route in policy.routes:
            if route.upstream != component or route.token_bearer is not None:
                continue
            fields = _body_fields(served[(route.method, route.upstream_path or route.path)])
            if fields is None:
                continue
            if route.writable is None:
                missing.append(f"{route.method} {route.path}")
            elif set(route.writable) != fields:
                differing.append(f"{route.method} {route.path}: {sorted(set(route.writable) ^ fields)}")
    assert missing == [] and differing == []
