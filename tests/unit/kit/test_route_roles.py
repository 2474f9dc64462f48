"""A service refuses to start on an access policy that grants roles on a route it does not serve:
a mistyped path would otherwise leave the real route to the gateway alone, refused to every
person (services/kit/access.py)."""

import pytest
import yaml

from gateway.policy import POLICY_FILE
from services.components import spec_of
from services.kit.app import build_app


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
