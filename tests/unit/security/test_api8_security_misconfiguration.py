"""OWASP API8:2023 Security Misconfiguration: request ids (issue 7, item 8) and a policy that
cannot name an object without saying whose it is (item 2, kept from coming back)."""

import uuid
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from gateway.policy import Policy
from services.kit.observability import accepted_request_id


def test_a_uuid_request_id_is_kept_lower_cased():
    sent = uuid.uuid4()
    assert accepted_request_id(str(sent).upper().encode()) == str(sent)
    assert accepted_request_id(sent.hex.encode()) == sent.hex


@pytest.mark.parametrize("planted", [b"Wang Fang 110101198005170000", b"x" * 200, b"abc\ninjected"])
def test_any_other_request_id_is_replaced_by_a_fresh_one(planted):
    accepted = accepted_request_id(planted)
    assert planted.decode(errors="replace") not in accepted
    assert uuid.UUID(hex=accepted)


def test_the_policy_refuses_a_route_naming_an_object_without_its_owner():
    policy = yaml.safe_load((Path(__file__).parents[3] / "gateway" / "policy.yaml").read_text())
    policy["routes"].append(
        {"method": "GET", "path": "/api/v1/cases/{case_id}", "upstream": "profile", "roles": ["relationship_manager"]}
    )
    with pytest.raises(ValidationError, match="names an object but has no customer_param or owner"):
        Policy.model_validate(policy)
