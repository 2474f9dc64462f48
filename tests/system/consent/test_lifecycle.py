"""Consents the bank requests (maker-checker), receipts, and expiry."""

import asyncio
import hashlib
import json
from datetime import UTC, datetime

import pytest

from events.contracts import topics
from services.kit.identity import caller_headers
from tests.system.consent.helpers import (
    PROBLEM,
    caller,
    consent_events,
    decide,
    grant,
    grant_body,
    history,
    in_seconds,
    new_customer_id,
    post_for_customer,
    request_consent,
)

MAKER = caller("relationship_manager", "rm-0042")
CHECKER = caller("compliance_officer", "co-0007")


async def test_a_request_awaits_approval_and_publishes_consent_requested(client, url, kafka):
    customer_id = new_customer_id()

    response = await post_for_customer(client, f"{url}/api/v1/consent-requests", grant_body(customer_id), MAKER)

    assert response.status_code == 201, response.text
    consent = response.json()
    assert response.headers["location"] == f"/api/v1/consents/{consent['id']}"
    assert (consent["status"], consent["requested_by"]) == ("requested", "rm-0042")
    assert consent["granted_at"] is consent["decided_by"] is None
    assert await history(client, url, consent["id"]) == [(None, "requested", "rm-0042")]
    [(event, _)] = await kafka.wait_for(topics.CONSENT, consent_events("consent.requested", consent["id"]))
    assert event.payload == {
        "consent_id": consent["id"], "customer_id": customer_id, "recipient": "wealth-management",
        "purpose": "marketing", "data_categories": ["basic", "behaviour"], "requested_by": "rm-0042",
    }  # fmt: skip
    # Requested is not yet allowed.
    assert (await decide(client, url, customer_id))["reason"] == "consent_pending"


@pytest.mark.parametrize("role", ["customer", "compliance_officer", "service_agent", None])
async def test_only_relationship_managers_and_admins_may_request(client, url, role):
    headers = caller(role) if role else {}

    response = await client.post(f"{url}/api/v1/consent-requests", json=grant_body(new_customer_id()), headers=headers)

    assert response.status_code == 403, response.text
    assert response.headers["content-type"] == PROBLEM
    assert "relationship_manager" in response.json()["detail"]


async def test_the_requester_cannot_approve_or_reject_their_own_request(client, url):
    # One person holding both roles: the four-eyes rule is about people, not roles.
    consent = await request_consent(client, url, grant_body(new_customer_id()), caller("admin", "staff-0001"))
    same_person = caller("compliance_officer", "staff-0001")

    for decision in ("approve", "reject"):
        response = await client.post(f"{url}/api/v1/consents/{consent['id']}/{decision}", headers=same_person)

        assert response.status_code == 403, response.text
        assert response.headers["content-type"] == PROBLEM
        assert "four-eyes" in response.json()["detail"]
        assert "another compliance officer" in response.json()["detail"]
    assert (await client.get(f"{url}/api/v1/consents/{consent['id']}")).json()["status"] == "requested"


@pytest.mark.parametrize("role", ["relationship_manager", "admin", "customer", None])
async def test_only_a_compliance_officer_may_approve_or_reject(client, url, role):
    consent = await request_consent(client, url, grant_body(new_customer_id()), MAKER)
    headers = caller(role) if role else {}

    for decision in ("approve", "reject"):
        response = await client.post(f"{url}/api/v1/consents/{consent['id']}/{decision}", headers=headers)

        assert response.status_code == 403, response.text
        assert "compliance_officer" in response.json()["detail"]
    assert await history(client, url, consent["id"]) == [(None, "requested", "rm-0042")]


async def test_approval_by_another_compliance_officer_makes_the_consent_active(client, url, kafka):
    customer_id = new_customer_id()
    consent = await request_consent(client, url, grant_body(customer_id), MAKER)

    response = await client.post(
        f"{url}/api/v1/consents/{consent['id']}/approve", json={"reason": "KYC done"}, headers=CHECKER
    )

    assert response.status_code == 200, response.text
    approved = response.json()
    assert approved["status"] == "active"
    assert (approved["requested_by"], approved["decided_by"]) == ("rm-0042", "co-0007")
    assert approved["granted_by"] == "co-0007"
    assert approved["decided_at"] == approved["granted_at"]
    assert await history(client, url, consent["id"]) == [
        (None, "requested", "rm-0042"),
        ("requested", "approved", "co-0007"),
        ("approved", "active", "co-0007"),
    ]
    [(event, _)] = await kafka.wait_for(topics.CONSENT, consent_events("consent.approved", consent["id"]))
    assert (event.customer_id, event.payload["decided_by"]) == (customer_id, "co-0007")
    assert datetime.fromisoformat(event.payload["expires_at"]) == datetime.fromisoformat(approved["expires_at"])
    # Consumers that know only grants see it too.
    await kafka.wait_for(topics.CONSENT, consent_events("consent.granted", consent["id"]))
    decision = await decide(client, url, customer_id)
    assert (decision["decision"], decision["consent_id"]) == ("permit", consent["id"])

    again = await client.post(f"{url}/api/v1/consents/{consent['id']}/approve", headers=caller("compliance_officer"))
    assert again.status_code == 409 and "only a requested consent" in again.json()["detail"]


async def test_rejection_leaves_the_consent_unusable_and_publishes_consent_rejected(client, url, kafka):
    customer_id = new_customer_id()
    consent = await request_consent(client, url, grant_body(customer_id), MAKER)

    response = await client.post(
        f"{url}/api/v1/consents/{consent['id']}/reject", json={"reason": "purpose too broad"}, headers=CHECKER
    )

    assert response.status_code == 200, response.text
    assert (response.json()["status"], response.json()["decided_by"]) == ("rejected", "co-0007")
    changes = (await client.get(f"{url}/api/v1/consents/{consent['id']}/history")).json()
    assert [(c["to_status"], c["reason"]) for c in changes] == [("requested", None), ("rejected", "purpose too broad")]
    [(event, _)] = await kafka.wait_for(topics.CONSENT, consent_events("consent.rejected", consent["id"]))
    assert event.payload["decided_by"] == "co-0007"
    assert (await decide(client, url, customer_id))["reason"] == "consent_rejected"
    approve = await client.post(f"{url}/api/v1/consents/{consent['id']}/approve", headers=caller("compliance_officer"))
    revoke = await client.post(f"{url}/api/v1/consents/{consent['id']}/revoke")
    assert (approve.status_code, revoke.status_code) == (409, 409)


async def test_an_unknown_request_cannot_be_approved(client, url):
    response = await client.post(f"{url}/api/v1/consents/no-such-consent/approve", headers=CHECKER)

    assert response.status_code == 404


async def test_approving_a_request_whose_expiry_has_passed_is_a_conflict(client, url):
    consent = await request_consent(client, url, grant_body(new_customer_id(), expires_at=in_seconds(0.5)), MAKER)
    await asyncio.sleep(max(0.0, (datetime.fromisoformat(consent["expires_at"]) - datetime.now(UTC)).total_seconds()))

    response = await client.post(f"{url}/api/v1/consents/{consent['id']}/approve", headers=CHECKER)

    assert response.status_code == 409, response.text
    assert "expiry has already passed" in response.json()["detail"]
    assert (await client.get(f"{url}/api/v1/consents/{consent['id']}")).json()["status"] == "requested"


NOTICE = "您同意本行将您的基本信息用于营销。\nWe will use your basic data for marketing.\n  "


async def test_the_receipt_carries_the_consent_and_the_hash_of_the_exact_notice(client, url, kafka):
    customer_id = new_customer_id()
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
    consent = await grant(client, url, body)
    digest = hashlib.sha256(NOTICE.encode()).hexdigest()

    response = await client.get(
        f"{url}/api/v1/consents/{consent['id']}/receipt",
        headers=caller_headers("customer", customer_id, customer_scope=customer_id),
    )

    assert response.status_code == 200, response.text
    receipt = response.json()
    assert consent["notice_text_sha256"] == receipt["notice_text_sha256"] == digest
    # The text itself is kept, not echoed.
    assert "notice_text" not in consent and "We will use" not in response.text
    granted = datetime.fromisoformat(consent["granted_at"])
    assert receipt == {
        "version": "KI-CR-v1.1.0",
        "jurisdiction": "CN",
        "consentTimestamp": int(granted.timestamp()),
        "collectionMethod": "mobile",
        "consentReceiptID": consent["id"],
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
    [(event, _)] = await kafka.wait_for(topics.CONSENT, consent_events("consent.granted", consent["id"]))
    assert "notice" not in json.dumps(event.payload) and "We will use" not in event.model_dump_json()


async def test_an_internal_open_ended_receipt_names_no_third_party_and_follows_the_status(client, url):
    customer_id = new_customer_id()
    body = grant_body(customer_id, purpose="analytics", data_categories=["behaviour"], notice_text="n")
    del body["expires_at"]
    consent = await grant(client, url, body)
    await client.post(f"{url}/api/v1/consents/{consent['id']}/revoke")

    receipt = (await client.get(f"{url}/api/v1/consents/{consent['id']}/receipt")).json()

    [purpose] = receipt["services"][0]["purposes"]
    assert (purpose["thirdPartyDisclosure"], purpose["thirdPartyName"]) == (False, None)
    assert purpose["purposeCategory"] == ["Improve Performance"]
    assert purpose["termination"] == "Until the customer revokes it."
    assert (receipt["sensitive"], receipt["spiCat"], receipt["status"]) == (False, [], "revoked")


async def test_a_customer_cannot_fetch_another_customers_receipt_or_history(client, url):
    consent = await grant(client, url, grant_body(new_customer_id()))
    as_other = caller_headers("customer", new_customer_id(), customer_scope=new_customer_id())

    for path in ("receipt", "history"):
        response = await client.get(f"{url}/api/v1/consents/{consent['id']}/{path}", headers=as_other)
        assert response.status_code == 404, path
        assert response.json()["detail"] == "No consent has this id."


async def test_the_expiry_job_marks_a_lapsed_consent_expired_and_publishes_consent_expired(client, url, kafka):
    customer_id = new_customer_id()
    consent = await grant(client, url, grant_body(customer_id, expires_at=in_seconds(2)))

    [(event, _)] = await kafka.wait_for(topics.CONSENT, consent_events("consent.expired", consent["id"]), timeout=15)

    assert event.customer_id == customer_id
    assert datetime.fromisoformat(event.payload["expired_at"]) == datetime.fromisoformat(consent["expires_at"])
    changes = (await client.get(f"{url}/api/v1/consents/{consent['id']}/history")).json()
    assert [(c["from_status"], c["to_status"], c["actor"]) for c in changes] == [
        (None, "active", customer_id),
        ("active", "expired", "consent:expire-consents"),
    ]
    assert datetime.fromisoformat(changes[-1]["at"]) == datetime.fromisoformat(consent["expires_at"])
    # Marked once: a later grant of the same customer is behind any second expiry on the topic.
    later = await grant(client, url, grant_body(customer_id))
    await kafka.wait_for(topics.CONSENT, consent_events("consent.granted", later["id"]))
    assert len(await kafka.wait_for(topics.CONSENT, consent_events("consent.expired", consent["id"]))) == 1


async def test_the_expiry_job_runs_once_from_the_command_line(system):
    result = system.run_cli("run-job", "consent", "expire-consents")

    assert result.stdout.startswith("consent/expire-consents: ") and "handled" in result.stdout
