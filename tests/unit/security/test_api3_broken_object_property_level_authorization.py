"""OWASP API3:2023 Broken Object Property Level Authorization: which role may write which field
(mass assignment, issue 7 items 3 and 4) and masking per route and field (item 9)."""

from pathlib import Path

import pytest

from gateway.policy import load_policy

POLICY = load_policy(Path(__file__).parents[3] / "gateway" / "policy.yaml")


def route(method: str, path: str):
    return next(r for r in POLICY.routes if (r.method, r.path) == (method, path))


@pytest.mark.parametrize("role", ["customer", "service_agent"])
def test_customers_and_agents_cannot_set_wealth_or_holdings(role):
    patch = route("PATCH", "/api/v1/customers/{customer_id}")
    body = {"email": "a@b.example", "assets_under_management": "90000000", "product_holdings": 9}
    assert patch.forbidden_fields(role, body) == ["assets_under_management", "product_holdings"]


def test_a_customer_changes_only_their_contact_data():
    patch = route("PATCH", "/api/v1/customers/{customer_id}")
    assert patch.forbidden_fields("customer", {"phone": "+8613800000000", "address": "x"}) == []
    assert patch.forbidden_fields("customer", {"name": "Other", "birth_date": "1990-01-01"}) == ["birth_date", "name"]
    assert patch.forbidden_fields("relationship_manager", {"assets_under_management": "10"}) == []


def test_a_field_the_rules_do_not_list_is_writable_by_nobody():
    patch = route("PATCH", "/api/v1/customers/{customer_id}")
    assert patch.forbidden_fields("admin", {"tier": "private"}) == ["tier"]


def test_customers_cannot_set_the_legal_basis_of_their_own_consent():
    grant = route("POST", "/api/v1/consents")
    assert grant.roles == ["customer"]  # staff go through /consent-requests (maker-checker)
    assert grant.forbidden_fields("customer", {"customer_id": "c", "legal_basis": "legal_obligation"}) == [
        "legal_basis"
    ]


def test_masking_is_per_route_never_on_products_or_recommendations():
    assert route("GET", "/api/v1/products").mask is None
    assert route("GET", "/api/v1/customers/{customer_id}/recommendations").mask is None
    assert route("GET", "/api/v1/customers/{customer_id}").mask == "catalogue"


def test_masking_follows_the_catalogue_and_a_masked_date_is_null():
    rules = POLICY.mask_rules({"name", "birth_date", "national_id", "new_secret"})
    record = {
        "name": "Wang Fang",
        "birth_date": "1980-05-17",
        "national_id": "110101198005170000",
        "new_secret": "abc",
        "product_name": "Steady Income",
    }
    masked, in_clear = POLICY.mask(record, "service_agent", rules)
    assert masked == {
        "name": "W********",
        "birth_date": None,
        "national_id": "110***********0000",
        "new_secret": "***",
        "product_name": "Steady Income",
    }
    assert in_clear == set()
    clear, shown = POLICY.mask(record, "compliance_officer", rules)
    assert isinstance(clear, dict) and clear["birth_date"] == "1980-05-17" and "birth_date" in shown
