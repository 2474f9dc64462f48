"""The consent service, called directly (the gateway in front of it is tested on its own)."""

import uuid
from datetime import UTC, datetime

import pytest

from events.contracts import topics
from services.kit.identity import caller_headers
from tests.support import eventually
from tests.system.consent.helpers import (
    PROBLEM,
    consent_events,
    grant,
    grant_body,
    in_days,
    new_customer_id,
    post_for_customer,
)


async def test_grant_creates_an_active_consent_and_publishes_consent_granted(client, url, kafka):
    customer_id = new_customer_id()
    body = grant_body(customer_id, expires_at="2099-01-01T08:00:00+08:00")

    response = await post_for_customer(
        client, f"{url}/api/v1/consents", body, caller_headers("customer", customer_id, customer_scope=customer_id)
    )

    assert response.status_code == 201, response.text
    consent = response.json()
    assert response.headers["location"] == f"/api/v1/consents/{consent['id']}"
    assert consent["status"] == "active"
    assert consent["granted_by"] == customer_id
    assert {k: consent[k] for k in ("customer_id", "recipient", "purpose", "data_categories", "channel")} == {
        k: body[k] for k in ("customer_id", "recipient", "purpose", "data_categories", "channel")
    }
    assert datetime.fromisoformat(consent["expires_at"]) == datetime(2099, 1, 1, tzinfo=UTC)
    assert consent["revoked_at"] is None
    read = await client.get(url + response.headers["location"])
    assert read.status_code == 200 and read.json() == consent

    [(event, headers)] = await kafka.wait_for(topics.CONSENT, consent_events("consent.granted", consent["id"]))
    assert (event.source, event.version, event.customer_id) == ("consent", 1, customer_id)
    assert event.payload == {
        "consent_id": consent["id"],
        "customer_id": customer_id,
        "recipient": "wealth-management",
        "purpose": "marketing",
        "data_categories": ["basic", "behaviour"],
        "expires_at": "2099-01-01T00:00:00Z",
    }
    assert headers["event_type"] == "consent.granted" and headers["event_id"] == str(event.id)
    assert headers["key"] == customer_id


async def test_grant_defaults_to_web_no_expiry_and_an_internal_recipient_granted_by_the_customer(client, url):
    customer_id = new_customer_id()
    body = grant_body(customer_id)
    del body["channel"], body["expires_at"]

    consent = await grant(client, url, body)

    assert (consent["channel"], consent["expires_at"], consent["granted_by"]) == ("web", None, customer_id)
    assert (consent["recipient_type"], consent["legal_basis"], consent["language"]) == ("internal", "consent", "zh-CN")
    assert consent["notice_text_sha256"] is None


async def test_revoke_ends_the_consent_and_publishes_consent_revoked(client, url, kafka):
    customer_id = new_customer_id()
    consent = await grant(client, url, grant_body(customer_id, purpose="analytics"))

    response = await client.post(
        f"{url}/api/v1/consents/{consent['id']}/revoke",
        headers=caller_headers("customer", customer_id, customer_scope=customer_id),
    )

    assert response.status_code == 200, response.text
    revoked = response.json()
    assert (revoked["status"], revoked["revoked_by"]) == ("revoked", customer_id)
    [(event, _)] = await kafka.wait_for(topics.CONSENT, consent_events("consent.revoked", consent["id"]))
    assert event.customer_id == customer_id
    assert event.payload == {
        "consent_id": consent["id"],
        "customer_id": customer_id,
        "recipient": "wealth-management",
        "purpose": "analytics",
        "revoked_at": event.payload["revoked_at"],
    }
    assert datetime.fromisoformat(event.payload["revoked_at"]) == datetime.fromisoformat(revoked["revoked_at"])


async def test_revoking_twice_is_a_conflict_and_publishes_once(client, url, kafka):
    customer_id = new_customer_id()
    consent = await grant(client, url, grant_body(customer_id))
    revoke = f"{url}/api/v1/consents/{consent['id']}/revoke"
    assert (await client.post(revoke)).status_code == 200

    again = await client.post(revoke)

    assert again.status_code == 409
    assert again.headers["content-type"] == PROBLEM
    assert "already revoked" in again.json()["detail"]
    # One customer's events keep their order, so once a later grant is on the topic, a second
    # revocation would be there too.
    later = await grant(client, url, grant_body(customer_id))
    await kafka.wait_for(topics.CONSENT, consent_events("consent.granted", later["id"]))
    revocations = await kafka.wait_for(topics.CONSENT, consent_events("consent.revoked", consent["id"]))
    assert len(revocations) == 1


async def test_revoking_an_unknown_consent_is_not_found(client, url):
    response = await client.post(f"{url}/api/v1/consents/{uuid.uuid4()}/revoke")

    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM


async def test_a_customer_cannot_revoke_or_see_another_customers_consent(client, url):
    owner = new_customer_id()
    consent = await grant(client, url, grant_body(owner))
    as_other = caller_headers("customer", new_customer_id(), customer_scope=new_customer_id())

    revoke = await client.post(f"{url}/api/v1/consents/{consent['id']}/revoke", headers=as_other)
    read = await client.get(f"{url}/api/v1/consents/{consent['id']}", headers=as_other)

    assert (revoke.status_code, read.status_code) == (404, 404)
    assert revoke.json()["detail"] == "No consent has this id."
    listed = (await client.get(f"{url}/api/v1/customers/{owner}/consents")).json()
    assert [c["status"] for c in listed] == ["active"]
    as_owner = await client.post(
        f"{url}/api/v1/consents/{consent['id']}/revoke", headers=caller_headers("customer", owner, customer_scope=owner)
    )
    assert as_owner.status_code == 200


async def test_listing_shows_one_customers_consents_newest_first_with_their_status(client, url):
    customer_id = new_customer_id()
    first = await grant(client, url, grant_body(customer_id, recipient="unit-a"))
    second = await grant(client, url, grant_body(customer_id, recipient="unit-b"))
    short = await grant(client, url, grant_body(customer_id, recipient="unit-c", expires_at=in_days(3 / 86400)))
    await grant(client, url, grant_body(new_customer_id()))
    await client.post(f"{url}/api/v1/consents/{second['id']}/revoke")

    async def expired_listing():
        response = await client.get(f"{url}/api/v1/customers/{customer_id}/consents")
        assert response.status_code == 200
        listed = response.json()
        assert [(c["id"], c["status"]) for c in listed] == [
            (short["id"], "expired"),
            (second["id"], "revoked"),
            (first["id"], "active"),
        ]
        return listed

    listed = await eventually(expired_listing, timeout=10)
    assert set(listed[0]) == {
        "id", "customer_id", "recipient", "recipient_type", "purpose", "data_categories", "legal_basis", "channel",
        "language", "notice_text_sha256", "status", "created_at", "requested_at", "requested_by", "decided_at",
        "decided_by", "granted_at", "granted_by", "expires_at", "revoked_at", "revoked_by",
    }  # fmt: skip
    expired_revoke = await client.post(f"{url}/api/v1/consents/{short['id']}/revoke")
    assert expired_revoke.status_code == 409 and "expired" in expired_revoke.json()["detail"]


async def test_a_customer_with_no_consents_has_an_empty_list(client, url):
    response = await client.get(f"{url}/api/v1/customers/{new_customer_id()}/consents")

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
async def test_an_invalid_grant_is_rejected_naming_the_field(client, url, change, field):
    body = {k: v for k, v in {**grant_body(new_customer_id()), **change}.items() if v is not None}  # None: omit

    response = await client.post(f"{url}/api/v1/consents", json=body)

    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    assert field in [e["field"] for e in response.json()["errors"]]


async def test_a_body_that_is_not_json_is_rejected_not_a_server_error(client, url):
    response = await client.post(
        f"{url}/api/v1/consents", content=b"{not json", headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM


async def test_a_rejected_grant_publishes_nothing(client, url, kafka):
    customer_id = new_customer_id()
    changes: list[dict[str, object]] = [{"purpose": "profiling"}, {"expires_at": in_days(-1)}, {"data_categories": []}]
    for change in changes:
        response = await client.post(f"{url}/api/v1/consents", json=grant_body(customer_id, **change))
        assert response.status_code == 422

    # A later accepted grant for the same customer: once it is on the topic, anything before it is too.
    accepted = await grant(client, url, grant_body(customer_id))
    events = await kafka.wait_for(topics.CONSENT, lambda e, _h: e.customer_id == customer_id)
    assert [e.payload["consent_id"] for e, _ in events] == [accepted["id"]]
