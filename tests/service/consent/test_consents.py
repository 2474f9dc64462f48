"""Grants, revocations and listings of the consent service in process, and the events staged in
its outbox."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from services.kit import clock
from tests.service.consent.helpers import (
    PROBLEM,
    as_customer,
    consent_events,
    grant,
    grant_body,
    in_days,
    in_seconds,
    known_customer,
    new_customer_id,
)


async def test_grant_creates_an_active_consent_and_publishes_consent_granted(consent, http):
    customer_id = await known_customer(consent)
    body = grant_body(customer_id, expires_at="2099-01-01T08:00:00+08:00")

    response = await http.post("/api/v1/consents", json=body, headers=as_customer(customer_id))

    assert response.status_code == 201, response.text
    granted = response.json()
    assert response.headers["location"] == f"/api/v1/consents/{granted['id']}"
    assert granted["status"] == "active"
    assert granted["granted_by"] == customer_id
    assert {k: granted[k] for k in ("customer_id", "recipient", "purpose", "data_categories", "channel")} == {
        k: body[k] for k in ("customer_id", "recipient", "purpose", "data_categories", "channel")
    }
    assert datetime.fromisoformat(granted["expires_at"]) == datetime(2099, 1, 1, tzinfo=UTC)
    assert granted["revoked_at"] is None
    read = await http.get(response.headers["location"])
    assert read.status_code == 200 and read.json() == granted

    [event] = await consent_events(consent, "consent.granted", granted["id"])
    assert (event.source, event.version, event.customer_id) == ("consent", 1, customer_id)
    assert event.payload == {
        "consent_id": granted["id"],
        "customer_id": customer_id,
        "recipient": "wealth-management",
        "purpose": "marketing",
        "data_categories": ["basic", "behaviour"],
        "expires_at": "2099-01-01T00:00:00Z",
    }
    # What the relay sends as the record's event_type and event_id headers and its key.
    row = await consent.outbox_row(event)
    assert (row.type, row.id, row.aggregateid) == ("consent.granted.v1", str(event.id), customer_id)


async def test_grant_defaults_to_web_no_expiry_and_an_internal_recipient_granted_by_the_customer(consent, http):
    customer_id = await known_customer(consent)
    body = grant_body(customer_id)
    del body["channel"], body["expires_at"]

    granted = await grant(http, body)

    assert (granted["channel"], granted["expires_at"], granted["granted_by"]) == ("web", None, customer_id)
    assert (granted["recipient_type"], granted["legal_basis"], granted["language"]) == ("internal", "consent", "zh-CN")
    assert granted["notice_text_sha256"] is None


async def test_revoke_ends_the_consent_and_publishes_consent_revoked(consent, http):
    customer_id = await known_customer(consent)
    granted = await grant(http, grant_body(customer_id, purpose="analytics"))

    response = await http.post(f"/api/v1/consents/{granted['id']}/revoke", headers=as_customer(customer_id))

    assert response.status_code == 200, response.text
    revoked = response.json()
    assert (revoked["status"], revoked["revoked_by"]) == ("revoked", customer_id)
    [event] = await consent_events(consent, "consent.revoked", granted["id"])
    assert event.customer_id == customer_id
    assert event.payload == {
        "consent_id": granted["id"],
        "customer_id": customer_id,
        "recipient": "wealth-management",
        "purpose": "analytics",
        "revoked_at": event.payload["revoked_at"],
    }
    assert datetime.fromisoformat(event.payload["revoked_at"]) == datetime.fromisoformat(revoked["revoked_at"])


async def test_revoking_twice_is_a_conflict_and_publishes_once(consent, http):
    granted = await grant(http, grant_body(await known_customer(consent)))
    revoke = f"/api/v1/consents/{granted['id']}/revoke"
    assert (await http.post(revoke)).status_code == 200

    again = await http.post(revoke)

    assert again.status_code == 409
    assert again.headers["content-type"] == PROBLEM
    assert "already revoked" in again.json()["detail"]
    assert len(await consent_events(consent, "consent.revoked", granted["id"])) == 1


async def test_revoking_an_unknown_consent_is_not_found(http):
    response = await http.post(f"/api/v1/consents/{uuid.uuid4()}/revoke")

    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM


async def test_a_customer_cannot_revoke_or_see_another_customers_consent(consent, http):
    owner = await known_customer(consent)
    granted = await grant(http, grant_body(owner))
    as_other = as_customer(new_customer_id())

    revoke = await http.post(f"/api/v1/consents/{granted['id']}/revoke", headers=as_other)
    read = await http.get(f"/api/v1/consents/{granted['id']}", headers=as_other)

    assert (revoke.status_code, read.status_code) == (404, 404)
    assert revoke.json()["detail"] == "No consent has this id."
    listed = (await http.get(f"/api/v1/customers/{owner}/consents")).json()
    assert [c["status"] for c in listed] == ["active"]
    as_owner = await http.post(f"/api/v1/consents/{granted['id']}/revoke", headers=as_customer(owner))
    assert as_owner.status_code == 200


async def test_listing_shows_one_customers_consents_newest_first_with_their_status(consent, http):
    customer_id = await known_customer(consent)
    first = await grant(http, grant_body(customer_id, recipient="unit-a"))
    second = await grant(http, grant_body(customer_id, recipient="unit-b"))
    short = await grant(http, grant_body(customer_id, recipient="unit-c", expires_at=in_seconds(60)))
    await grant(http, grant_body(await known_customer(consent)))
    await http.post(f"/api/v1/consents/{second['id']}/revoke")

    # Past the short one's expiry, before any job has marked it.
    with clock.shifted(timedelta(seconds=61)):
        response = await http.get(f"/api/v1/customers/{customer_id}/consents")
        expired_revoke = await http.post(f"/api/v1/consents/{short['id']}/revoke")

    assert response.status_code == 200
    listed = response.json()
    assert [(c["id"], c["status"]) for c in listed] == [
        (short["id"], "expired"),
        (second["id"], "revoked"),
        (first["id"], "active"),
    ]
    assert set(listed[0]) == {
        "id", "customer_id", "recipient", "recipient_type", "purpose", "data_categories", "legal_basis", "channel",
        "language", "notice_text_sha256", "status", "created_at", "requested_at", "requested_by", "decided_at",
        "decided_by", "granted_at", "granted_by", "expires_at", "revoked_at", "revoked_by",
    }  # fmt: skip
    assert expired_revoke.status_code == 409 and "expired" in expired_revoke.json()["detail"]


async def test_a_customer_with_no_consents_has_an_empty_list(http):
    response = await http.get(f"/api/v1/customers/{new_customer_id()}/consents")

    assert (response.status_code, response.json()) == (200, [])


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"purpose": "profiling"}, "purpose"),
        ({"data_categories": []}, "data_categories"),
        ({"data_categories": ["basic", "basic"]}, "data_categories"),
        ({"data_categories": ["health"]}, "data_categories.0"),
        ({"expires_at": in_days(-1)}, "expires_at"),
        ({"expires_at": "2099-01-01T00:00:00"}, "expires_at"),  # no time zone
        ({"recipient": ""}, "recipient"),
        ({"recipient": "x" * 101}, "recipient"),
        ({"recipient": "Jane Doe"}, "recipient"),  # an id, not a name
        ({"channel": "fax"}, "channel"),
        ({"customer_id": None}, "customer_id"),
        ({"recipient": None}, "recipient"),
        ({"national_id": "110101198506150011"}, "national_id"),  # unknown field
        ({"recipient_type": "partner"}, "recipient_type"),
        ({"legal_basis": "whim"}, "legal_basis"),
        ({"notice_text": ""}, "notice_text"),
        ({"notice_text": "x" * 20_001}, "notice_text"),
        ({"language": "Chinese"}, "language"),
    ],
)
async def test_an_invalid_grant_is_rejected_naming_the_field(http, change, field):
    body = {k: v for k, v in {**grant_body(new_customer_id()), **change}.items() if v is not None}  # None: omit

    response = await http.post("/api/v1/consents", json=body)

    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    assert field in [e["field"] for e in response.json()["errors"]]


async def test_a_body_that_is_not_json_is_rejected_not_a_server_error(http):
    response = await http.post("/api/v1/consents", content=b"{not json", headers={"Content-Type": "application/json"})

    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM


async def test_a_rejected_grant_publishes_nothing(consent, http):
    customer_id = await known_customer(consent)
    changes: list[dict[str, object]] = [{"purpose": "profiling"}, {"expires_at": in_days(-1)}, {"data_categories": []}]
    for change in changes:
        response = await http.post("/api/v1/consents", json=grant_body(customer_id, **change))
        assert response.status_code == 422

    accepted = await grant(http, grant_body(customer_id))
    events = await consent.published(customer_id=customer_id)
    assert [e.payload["consent_id"] for e in events] == [accepted["id"]]
