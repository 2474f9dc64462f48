"""Property-level write rules in the policy that keep book-wide uniqueness from becoming an
existence oracle (issue 7, item 10): a portfolio-scoped role never sets a value that must be
unique across the whole book, nor imports files whose report says what is already on it."""

from pathlib import Path

from gateway.policy import load_policy
from services.profile.schemas import CustomerCreate

POLICY = load_policy(Path(__file__).resolve().parents[3] / "gateway" / "policy.yaml")


def route(method: str, path: str):
    [found] = [r for r in POLICY.routes if r.method == method and r.path == path]
    return found


def test_every_field_of_a_new_customer_has_a_write_rule():
    create = route("POST", "/api/v1/customers")
    assert set(create.writable) == set(CustomerCreate.model_fields)


def test_a_manager_may_not_set_the_banks_own_reference():
    create = route("POST", "/api/v1/customers")
    body = {"name": "Wang Fang", "external_ref": "CORE-1"}
    for role in POLICY.assigned_only_roles:
        assert create.forbidden_fields(role, body) == ["external_ref"]
    assert create.forbidden_fields("admin", body) == []


def test_only_roles_that_see_every_customer_import():
    imports = route("POST", "/api/v1/customers/imports")
    assert imports.roles and not set(imports.roles) & set(POLICY.assigned_only_roles)
