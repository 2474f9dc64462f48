"""Partner-share routes: the gateway can only check consent for a customer the path names."""

from pathlib import Path

import pytest
import yaml

from gateway.policy import Policy, load_policy

POLICY_FILE = Path(__file__).resolve().parents[3] / "gateway" / "policy.yaml"


def test_every_partner_share_route_of_the_policy_names_its_customer():
    shared = [route for route in load_policy(POLICY_FILE).routes if route.partner_share]
    assert shared and all(route.customer_param for route in shared)


def test_a_partner_share_route_without_a_customer_param_is_refused():
    document = yaml.safe_load(POLICY_FILE.read_text())
    document["routes"].append(
        {
            "method": "GET",
            "path": "/api/v1/partner/shared",
            "upstream": "profile",
            "roles": ["partner"],
            "partner_share": True,
        }
    )
    with pytest.raises(ValueError, match="partner_share route needs a customer_param"):
        Policy.model_validate(document)
