"""Consents the bank requests (maker-checker), receipts, and expiry."""

import hashlib
import json
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from services.kit import clock
from tests.service.consent.helpers import (
    PROBLEM,
    as_customer,
    caller,
    consent_events,
    decide,
    grant,
    grant_body,
    history,
    in_seconds,
    known_customer,
    new_customer_id,
    request_consent,
)

MAKER = caller("relationship_manager", "rm-0042")
CHECKER = caller("compliance_officer", "co-0007")


async def test_a_request_awaits_approval_and_publishes_consent_requested(consent, http):
    customer_id = await known_customer(consent)

    response = await http.post("/api/v1/consent-requests", json=grant_body(customer_id), headers=MAKER)

    assert response.status_code == 201, response.text
    requested = response.json()
    assert response.headers["location"] == f"/api/v1/consents/{requested['id']}"
    assert (requested["status"], requested["requested_by"]) == ("requested", "rm-0042")
    assert requested["granted_at"] is requested["decided_by"] is None
    assert await history(http, requested["id"]) == [(None, "requested", "rm-0042")]
    [event] = await consent_events(consent, "consent.requested", requested["id"])
    assert event.payload == {
        "consent_id": requested["id"], "customer_id": customer_id, "recipient": "wealth-management",
        "purpose": "marketing", "data_categories": ["basic", "behaviour"], "requested_by": "rm-0042",
    }  # fmt: skip
    # Requested is not yet allowed.
    assert (await decide(http, customer_id))["reason"] == "consent_pending"


@pytest.mark.parametrize("role", ["customer", "compliance_officer", "service_agent", "gateway"])
async def test_only_relationship_managers_and_admins_may_request(http, role):
    response = await http.post("/api/v1/consent-requests", json=grant_body(new_customer_id()), headers=caller(role))

    assert response.status_code == 403, response.text
    assert response.headers["content-type"] == PROBLEM
    assert "relationship_manager" in response.json()["detail"]


async def test_the_requester_cannot_approve_or_reject_their_own_request(consent, http):
    # One person holding both roles: the four-eyes rule is about people, not roles.
    requested = await request_consent(http, grant_body(await known_customer(consent)), caller("admin", "staff-0001"))
    same_person = caller("compliance_officer", "staff-0001")

    for decision in ("approve", "reject"):
        response = await http.post(f"/api/v1/consents/{requested['id']}/{decision}", headers=same_person)

        assert response.status_code == 403, response.text
        assert response.headers["content-type"] == PROBLEM
        assert "four-eyes" in response.json()["detail"]
        assert "another compliance officer" in response.json()["detail"]
    assert (await http.get(f"/api/v1/consents/{requested['id']}")).json()["status"] == "requested"


@pytest.mark.parametrize("role", ["relationship_manager", "admin", "customer", "gateway"])
async def test_only_a_compliance_officer_may_approve_or_reject(consent, http, role):
    requested = await request_consent(http, grant_body(await known_customer(consent)), MAKER)

    for decision in ("approve", "reject"):
        response = await http.post(f"/api/v1/consents/{requested['id']}/{decision}", headers=caller(role))

        assert response.status_code == 403, response.text
        assert "compliance_officer" in response.json()["detail"]
    assert await history(http, requested["id"]) == [(None, "requested", "rm-0042")]


async def test_approval_by_another_compliance_officer_makes_the_consent_active(consent, http):
    customer_id = await known_customer(consent)
    requested = await request_consent(http, grant_body(customer_id), MAKER)

    response = await http.post(
        f"/api/v1/consents/{requested['id']}/approve", json={"reason": "KYC done"}, headers=CHECKER
    )

    assert response.status_code == 200, response.text
    approved = response.json()
    assert approved["status"] == "active"
    assert (approved["requested_by"], approved["decided_by"]) == ("rm-0042", "co-0007")
    assert approved["granted_by"] == "co-0007"
    assert approved["decided_at"] == approved["granted_at"]
    assert await history(http, requested["id"]) == [
        (None, "requested", "rm-0042"),
        ("requested", "approved", "co-0007"),
        ("approved", "active", "co-0007"),
    ]
    [event] = await consent_events(consent, "consent.approved", requested["id"])
    assert (event.customer_id, event.payload["decided_by"]) == (customer_id, "co-0007")
    assert datetime.fromisoformat(event.payload["expires_at"]) == datetime.fromisoformat(approved["expires_at"])
    # Consumers that know only grants see it too.
    assert len(await consent_events(consent, "consent.granted", requested["id"])) == 1
    decision = await decide(http, customer_id)
    assert (decision["decision"], decision["consent_id"]) == ("permit", requested["id"])

    again = await http.post(f"/api/v1/consents/{requested['id']}/approve", headers=caller("compliance_officer"))
    assert again.status_code == 409 and "only a requested consent" in again.json()["detail"]


async def test_rejection_leaves_the_consent_unusable_and_publishes_consent_rejected(consent, http):
    customer_id = await known_customer(consent)
    requested = await request_consent(http, grant_body(customer_id), MAKER)

    response = await http.post(
        f"/api/v1/consents/{requested['id']}/reject", json={"reason": "purpose too broad"}, headers=CHECKER
    )

    assert response.status_code == 200, response.text
    assert (response.json()["status"], response.json()["decided_by"]) == ("rejected", "co-0007")
    changes = (await http.get(f"/api/v1/consents/{requested['id']}/history")).json()
    assert [(c["to_status"], c["reason"]) for c in changes] == [("requested", None), ("rejected", "purpose too broad")]
    [event] = await consent_events(consent, "consent.rejected", requested["id"])
    assert event.payload["decided_by"] == "co-0007"
    assert (await decide(http, customer_id))["reason"] == "consent_rejected"
    approve = await http.post(f"/api/v1/consents/{requested['id']}/approve", headers=caller("compliance_officer"))
    revoke = await http.post(f"/api/v1/consents/{requested['id']}/revoke")
    assert (approve.status_code, revoke.status_code) == (409, 409)


async def test_an_unknown_request_cannot_be_approved(http):
    response = await http.post("/api/v1/consents/no-such-consent/approve", headers=CHECKER)

    assert response.status_code == 404


async def test_approving_a_request_whose_expiry_has_passed_is_a_conflict(consent, http):
    requested = await request_consent(http, grant_body(await known_customer(consent), expires_at=in_seconds(60)), MAKER)

    with clock.frozen_at(datetime.fromisoformat(requested["expires_at"])):
        response = await http.post(f"/api/v1/consents/{requested['id']}/approve", headers=CHECKER)

    assert response.status_code == 409, response.text
    assert "expiry has already passed" in response.json()["detail"]
    assert (await http.get(f"/api/v1/consents/{requested['id']}")).json()["status"] == "requested"


NOTICE = "您同意本行将您的基本信息用于营销。\nWe will use your basic data for marketing.\n  "


async def test_the_receipt_carries_the_consent_and_the_hash_of_the_exact_notice(consent, http):
    customer_id = await known_customer(consent)
    body = grant_body(
        customer_id,
        recipient="partner-insurer",
        recipient_type="external",
        purpose="third_party_sharing",
        data_categories=["basic", "risk", "behaviour"],
        expires_at="2030-06-30T16:00:00Z",
        notice_text=NOTICE,
        language="zh-CN",
        channel="mobile",
    )
    granted = await grant(http, body)
    digest = hashlib.sha256(NOTICE.encode()).hexdigest()

    response = await http.get(f"/api/v1/consents/{granted['id']}/receipt", headers=as_customer(customer_id))

    assert response.status_code == 200, response.text
    receipt = response.json()
    assert granted["notice_text_sha256"] == receipt["notice_text_sha256"] == digest
    # The text itself is kept, not echoed.
    assert "notice_text" not in granted and "We will use" not in response.text
    granted_at = datetime.fromisoformat(granted["granted_at"])
    assert receipt == {
        "version": "KI-CR-v1.1.0",
        "jurisdiction": "CN",
        "consentTimestamp": int(granted_at.timestamp()),
        "collectionMethod": "mobile",
        "consentReceiptID": granted["id"],
        "language": "zh-CN",
        "piiPrincipalId": customer_id,
        "piiControllers": [{"piiController": "Bank CRM", "contact": "privacy@bank.example", "onBehalf": False}],
        "policyUrl": "https://bank.example/privacy",
        "services": [{
            "service": "partner-insurer",
            "purposes": [{
                "purpose": "third_party_sharing",
                "purposeCategory": ["3rd Party Sharing for Core Function"],
                "consentType": "EXPRESSED",
                "piiCategory": ["basic", "risk", "behaviour"],
                "primaryPurpose": True,
                "termination": "At 2030-06-30T16:00:00+00:00, or earlier when the customer revokes it.",
                "thirdPartyDisclosure": True,
                "thirdPartyName": "partner-insurer",
            }],
        }],
        "sensitive": True,
        "spiCat": ["basic", "risk"],
        "notice_text_sha256": digest,
        "legal_basis": "consent",
        "status": "active",
    }  # fmt: skip
    # The notice never travels in events.
    [event] = await consent_events(consent, "consent.granted", granted["id"])
    assert "notice" not in json.dumps(event.payload) and "We will use" not in event.model_dump_json()


async def test_an_internal_open_ended_receipt_names_no_third_party_and_follows_the_status(consent, http):
    body = grant_body(
        await known_customer(consent), purpose="analytics", data_categories=["behaviour"], notice_text="n"
    )
    del body["expires_at"]
    granted = await grant(http, body)
    await http.post(f"/api/v1/consents/{granted['id']}/revoke")

    receipt = (await http.get(f"/api/v1/consents/{granted['id']}/receipt")).json()

    [purpose] = receipt["services"][0]["purposes"]
    assert (purpose["thirdPartyDisclosure"], purpose["thirdPartyName"]) == (False, None)
    assert purpose["purposeCategory"] == ["Improve Performance"]
    assert purpose["termination"] == "Until the customer revokes it."
    assert (receipt["sensitive"], receipt["spiCat"], receipt["status"]) == (False, [], "revoked")


async def test_a_customer_cannot_fetch_another_customers_receipt_or_history(consent, http):
    granted = await grant(http, grant_body(await known_customer(consent)))
    as_other = as_customer(new_customer_id())

    for path in ("receipt", "history"):
        response = await http.get(f"/api/v1/consents/{granted['id']}/{path}", headers=as_other)
        assert response.status_code == 404, path
        assert response.json()["detail"] == "No consent has this id."


async def test_the_expiry_job_marks_lapsed_consents_expired_and_publishes_consent_expired(consent, http):
    customer_ids = [await known_customer(consent), await known_customer(consent)]
    lapsing = [await grant(http, grant_body(c, expires_at=in_seconds(60 + i))) for i, c in enumerate(customer_ids)]

    with clock.shifted(timedelta(seconds=62)):
        assert await consent.run_job("expire-consents") >= 2  # the two in one batch
        assert await consent.run_job("expire-consents") == 0  # marked once

    for customer_id, granted in zip(customer_ids, lapsing, strict=True):
        [event] = await consent_events(consent, "consent.expired", granted["id"])
        assert event.customer_id == customer_id
        assert datetime.fromisoformat(event.payload["expired_at"]) == datetime.fromisoformat(granted["expires_at"])
        changes = (await http.get(f"/api/v1/consents/{granted['id']}/history")).json()
        assert [(c["from_status"], c["to_status"], c["actor"]) for c in changes] == [
            (None, "active", customer_id),
            ("active", "expired", "consent:expire-consents"),
        ]
        # Recorded when it lapsed, each at its own moment, not when the job noticed.
        assert datetime.fromisoformat(changes[-1]["at"]) == datetime.fromisoformat(granted["expires_at"])
        async with consent.engine.connect() as connection:
            actions = set(
                await connection.scalars(
                    sa.text("SELECT action FROM audit_log WHERE customer_id = :c AND actor = :a"),
                    {"c": customer_id, "a": "consent:expire-consents"},
                )
            )
        assert actions == {"consent.expired"}
