"""The platform end to end, through the gateway only, as a front end and a bank system see it,
on PostgreSQL and again on the embedded SQLite default that `make run` uses."""

import pytest

from events.broker import LocalBroker
from tests.support import (
    KafkaProbe,
    System,
    eventually,
    free_port,
    marketing_consent,
    new_customer,
    once_customer_known,
)

ROLES = ["customer", "relationship_manager", "service_agent", "compliance_officer", "marketing_analyst", "admin"]


@pytest.fixture(scope="module")
def sqlite_system(tmp_path_factory):
    """The whole system on SQLite files, with a broker of its own (its consumer groups must not
    share partitions with the PostgreSQL system's)."""
    broker = LocalBroker(free_port())
    broker.start()
    workdir = tmp_path_factory.mktemp("sqlite")
    urls = {
        c: f"sqlite+aiosqlite:///{workdir / c}.db"
        for c in ("gateway", "profile", "consent", "recommendation", "churn", "feedback")
    }
    running = System(database_urls=urls, bootstrap_servers=broker.bootstrap_servers, workdir=workdir)
    try:
        running.start()
        yield running
    finally:
        running.stop()
        broker.stop()


@pytest.fixture(params=["postgresql", "sqlite"])
def backend(request):
    system = request.getfixturevalue("system" if request.param == "postgresql" else "sqlite_system")
    return system, KafkaProbe(system.bootstrap_servers)


async def test_customer_journey_from_onboarding_to_churn_warning(backend, client):
    system, kafka = backend
    gateway = system.url("gateway")
    rm = system.headers("relationship_manager", "rm-42")

    # Onboard a cautious customer.
    onboarded = new_customer()
    created = await client.post(f"{gateway}/api/v1/customers", json=onboarded, headers=rm)
    assert created.status_code == 201, created.text
    customer_id = created.json()["id"]
    me = system.headers("customer", customer_id)

    # The customer agrees to marketing in the app; without it nothing would be recommended.
    consent = await once_customer_known(
        lambda: client.post(f"{gateway}/api/v1/consents", json=marketing_consent(customer_id), headers=me)
    )
    assert consent.status_code == 201, consent.text

    # The events reach recommendation: without a risk assessment only products up to R2 are offered.
    async def recommended():
        response = await client.get(f"{gateway}/api/v1/customers/{customer_id}/recommendations?limit=50", headers=me)
        assert response.status_code == 200, response.text
        assert response.json()["items"], response.json()
        return response.json()

    recommendations = await eventually(recommended)
    levels = {item["product"]["risk_level"] for item in recommendations["items"]}
    assert levels and levels <= {"R1", "R2"}

    # The customer answers the risk questionnaire: C4, and recommendations widen at once.
    answers = {
        "legal_capacity": "yes",
        "loss_tolerance": "up_to_30",
        "experience": "funds",
        "income": "stable",
        "horizon": "over_5y",
        "liquidity": "not_soon",
        "goal": "growth",
        "vulnerability": "no",
    }
    assessed = await client.post(
        f"{gateway}/api/v1/customers/{customer_id}/risk-assessments",
        json={"questionnaire_version": "2026.1", "answers": answers},
        headers=me,
    )
    assert assessed.status_code == 201, assessed.text
    assert assessed.json()["risk_level"] == "C4"

    async def widened():
        levels = {item["product"]["risk_level"] for item in (await recommended())["items"]}
        assert "R4" in levels and "R5" not in levels

    await eventually(widened)

    # The event reaches churn too; the customer starts at low risk.
    async def churn_risk():
        response = await client.get(f"{gateway}/api/v1/customers/{customer_id}/churn-risk", headers=rm)
        assert response.status_code == 200, response.text
        return response.json()

    first = await eventually(churn_risk)
    assert first["level"] == "low"

    # Complaints and poor scores, filed by the customer in the app.
    for description in ("Card blocked abroad for two days.", "Nobody called back.", "Fee charged twice."):
        response = await once_customer_known(
            lambda: client.post(
                f"{gateway}/api/v1/complaints",
                json={
                    "customer_id": customer_id,
                    "category": "service",
                    "channel": "mobile",
                    "description": description,
                },
                headers=me,
            )
        )
        assert response.status_code == 201, response.text
    for survey, score in (("csat", 1), ("nps", 2), ("csat", 2)):
        response = await client.post(
            f"{gateway}/api/v1/feedback",
            json={"customer_id": customer_id, "survey": survey, "score": score, "channel": "mobile"},
            headers=me,
        )
        assert response.status_code == 201, response.text

    async def high():
        risk = await churn_risk()
        assert risk["level"] == "high", risk
        return risk

    risk = await eventually(high)
    assert risk["score"] >= 70

    # Other bank systems see a warning per band risen (medium, then high), keyed by the customer.
    warnings = await kafka.wait_for(
        "crm.churn", lambda e, h: e.customer_id == customer_id and e.type == "churn.warning", count=2
    )
    assert [e.payload["level"] for e, _ in warnings] == ["medium", "high"]
    envelope, headers = warnings[-1]
    assert envelope.payload["previous_level"] == "medium" and envelope.payload["reasons"]
    assert headers["event_type"] == "churn.warning"

    # Read as each role: masked or clear as the policy says.
    national_id = onboarded["national_id"]
    for role in ROLES:
        subject = {"customer": customer_id, "relationship_manager": "rm-42"}.get(role)
        response = await client.get(
            f"{gateway}/api/v1/customers/{customer_id}",
            headers=system.headers(role, subject, **{"X-Access-Reason": "journey test"}),
        )
        assert response.status_code == 200, (role, response.text)
        seen = response.json()["national_id"]
        if role in ("customer", "compliance_officer"):
            assert seen == national_id, role
        else:
            assert seen == national_id[:3] + "*" * (len(national_id) - 7) + national_id[-4:], role

    # Nothing personal reached any component's log along the way.
    logs = "".join(path.read_text(errors="replace") for path in system.workdir.glob("*.log"))
    assert created.headers["x-request-id"] in logs  # the logs are there, with request ids
    for field in ("national_id", "phone", "email", "name", "address"):
        assert onboarded[field] not in logs, field
