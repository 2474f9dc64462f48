"""Decisions: may this recipient use these categories of the customer's data for this purpose?"""

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from services.kit import clock
from tests.service.consent.helpers import (
    PROBLEM,
    decide,
    grant,
    grant_body,
    in_seconds,
    known_customer,
    new_customer_id,
)


async def test_an_active_consent_covering_every_category_permits(consent, http):
    customer_id = await known_customer(consent)
    granted = await grant(http, grant_body(customer_id))
    before = datetime.now(UTC)

    decision = await decide(http, customer_id, data_categories=["behaviour", "basic"])

    assert (decision["decision"], decision["reason"]) == ("permit", "active_consent")
    assert decision["consent_id"] == granted["id"]
    assert before <= datetime.fromisoformat(decision["as_of"]) <= datetime.now(UTC)


@pytest.mark.parametrize(
    ("asked", "reason"),
    [
        ({"purpose": "analytics"}, "purpose_not_consented"),
        ({"data_categories": ["basic", "risk"]}, "categories_not_covered"),
        ({"recipient": "partner-insurer"}, "no_consent"),
    ],
)
async def test_a_consent_for_something_else_denies(consent, http, asked, reason):
    customer_id = await known_customer(consent)
    granted = await grant(http, grant_body(customer_id))

    decision = await decide(http, customer_id, **asked)

    assert (decision["decision"], decision["reason"]) == ("deny", reason)
    # Only a consent of the asked purpose is named; it is the one that falls short.
    assert decision["consent_id"] == (granted["id"] if reason == "categories_not_covered" else None)


async def test_a_customer_without_consents_is_denied(http):
    decision = await decide(http, new_customer_id())

    assert (decision["decision"], decision["consent_id"], decision["reason"]) == ("deny", None, "no_consent")


async def test_a_revocation_denies_from_then_on_but_not_before(consent, http):
    customer_id = await known_customer(consent)
    granted = await grant(http, grant_body(customer_id))
    granted_at = datetime.fromisoformat(granted["granted_at"])
    await asyncio.sleep(0.05)
    revoked = (await http.post(f"/api/v1/consents/{granted['id']}/revoke")).json()
    revoked_at = datetime.fromisoformat(revoked["revoked_at"])

    now = await decide(http, customer_id)
    between = await decide(http, customer_id, as_of=(revoked_at - timedelta(milliseconds=10)).isoformat())
    at_revocation = await decide(http, customer_id, as_of=revoked_at.isoformat())
    before_grant = await decide(http, customer_id, as_of=(granted_at - timedelta(seconds=1)).isoformat())

    assert (now["decision"], now["reason"], now["consent_id"]) == ("deny", "consent_revoked", granted["id"])
    assert (between["decision"], between["consent_id"]) == ("permit", granted["id"])
    assert datetime.fromisoformat(between["as_of"]) == revoked_at - timedelta(milliseconds=10)
    assert (at_revocation["decision"], at_revocation["reason"]) == ("deny", "consent_revoked")
    assert (before_grant["decision"], before_grant["reason"]) == ("deny", "no_consent")


async def test_an_expired_consent_denies_at_once_and_permits_as_of_before_expiry(consent, http):
    customer_id = await known_customer(consent)
    granted = await grant(http, grant_body(customer_id, expires_at=in_seconds(60)))
    expires_at = datetime.fromisoformat(granted["expires_at"])

    # The very moment it lapses, before any job has marked it.
    with clock.frozen_at(expires_at):
        decision = await decide(http, customer_id)
    earlier = await decide(http, customer_id, as_of=(expires_at - timedelta(milliseconds=100)).isoformat())

    assert (decision["decision"], decision["reason"], decision["consent_id"]) == (
        "deny",
        "consent_expired",
        granted["id"],
    )
    assert datetime.fromisoformat(decision["as_of"]) >= expires_at
    assert (earlier["decision"], earlier["consent_id"]) == ("permit", granted["id"])


async def test_a_consent_allows_nothing_past_its_expiry_even_before_the_job_has_marked_it(consent, http):
    # Asked about a time after a far expiry: the history still says active, the expiry decides.
    customer_id = await known_customer(consent)
    granted = await grant(http, grant_body(customer_id, expires_at="2099-01-01T00:00:00Z"))

    before = await decide(http, customer_id, as_of="2098-12-31T23:59:59Z")
    after = await decide(http, customer_id, as_of="2099-01-01T00:00:00Z")

    assert (before["decision"], after["decision"], after["reason"]) == ("permit", "deny", "consent_expired")
    assert after["consent_id"] == granted["id"]


async def test_any_one_covering_consent_permits_beside_lapsed_ones(consent, http):
    customer_id = await known_customer(consent)
    old = await grant(http, grant_body(customer_id))
    await http.post(f"/api/v1/consents/{old['id']}/revoke")
    await grant(http, grant_body(customer_id, data_categories=["basic"]))
    wide = await grant(http, grant_body(customer_id, data_categories=["basic", "business"]))

    both = await decide(http, customer_id, data_categories=["basic", "business"])
    too_much = await decide(http, customer_id, data_categories=["basic", "business", "risk"])

    assert (both["decision"], both["consent_id"]) == ("permit", wide["id"])
    # The closest to permitting is an active one that falls short, not the revoked one; the newest of those.
    assert (too_much["reason"], too_much["consent_id"]) == ("categories_not_covered", wide["id"])


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"data_categories": []}, "data_categories"),
        ({"data_categories": ["health"]}, "data_categories.0"),
        ({"purpose": "profiling"}, "purpose"),
        ({"as_of": "2026-01-01T00:00:00"}, "as_of"),  # no time zone
        ({"customer_id": ""}, "customer_id"),
    ],
)
async def test_an_invalid_question_is_rejected_naming_the_field(http, change, field):
    body = {
        "customer_id": new_customer_id(),
        "recipient": "r",
        "purpose": "marketing",
        "data_categories": ["basic"],
        **change,
    }

    response = await http.post("/api/v1/decisions", json=body)

    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    assert field in [e["field"] for e in response.json()["errors"]]


@pytest.mark.parametrize("content", [b"", b"not json", b'{"customer_id": "c-1",', b"[]"])
async def test_a_question_that_is_not_a_json_object_is_rejected(http, content):
    response = await http.post("/api/v1/decisions", content=content, headers={"content-type": "application/json"})

    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["errors"], response.text


async def test_the_decision_route_is_documented_with_its_question_and_answer(consent):
    operation = consent.app.openapi()["paths"]["/api/v1/decisions"]["post"]

    body = operation["requestBody"]["content"]["application/json"]["schema"]
    answer = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert (body["$ref"], answer["$ref"]) == (
        "#/components/schemas/DecisionRequest",
        "#/components/schemas/DecisionOut",
    )
    assert "422" in operation["responses"]


async def test_decisions_are_refused_to_roles_the_policy_does_not_let_ask(consent):
    """The gateway asks before every share, and compliance looks; a customer or a manager asking
    directly is refused by the service (its hot route checks the role as every route does)."""
    me, someone_else = await known_customer(consent), await known_customer(consent)
    question = {"recipient": "r", "purpose": "marketing", "data_categories": ["basic"]}

    async with consent.client("customer", me, customer_scope=me) as http:
        mine = await http.post("/api/v1/decisions", json={**question, "customer_id": me})
        theirs = await http.post("/api/v1/decisions", json={**question, "customer_id": someone_else})
    async with consent.client("relationship_manager", "rm-1") as http:
        managers = await http.post("/api/v1/decisions", json={**question, "customer_id": me})
    async with consent.client("compliance_officer", "co-1") as http:
        allowed = await http.post("/api/v1/decisions", json={**question, "customer_id": me})

    assert [r.status_code for r in (mine, theirs, managers)] == [403, 403, 403]
    assert mine.headers["content-type"] == PROBLEM
    assert mine.json()["detail"].endswith("these roles may: admin, compliance_officer.")
    assert (allowed.status_code, allowed.json()["reason"]) == (200, "no_consent")
