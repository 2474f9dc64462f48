"""Erasure across the platform (R2.2): the profile anonymises the customer and announces
`customer.erased`; every other service erases or anonymises its own copies."""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from tests.support import eventually, new_customer, once_customer_known

COMMENT = "Call me on my private line, Mrs Qian"
DESCRIPTION = "Teller shared my account balance with my neighbour Mr Sun"


async def rows(system, component: str, sql: str, **params) -> Sequence[sa.Row]:
    engine = create_async_engine(system.database_urls[component])
    try:
        async with engine.connect() as connection:
            return (await connection.execute(sa.text(sql), params)).all()
    finally:
        await engine.dispose()


async def test_erasure_reaches_every_service(system, client, kafka):
    gateway = system.url("gateway")
    body = new_customer()
    created = await client.post(
        f"{gateway}/api/v1/customers", json=body, headers=system.headers("relationship_manager")
    )
    assert created.status_code == 201
    customer_id = created.json()["id"]
    me = system.headers("customer", customer_id)
    for path, payload in (
        (
            "/api/v1/consents",
            {
                "customer_id": customer_id,
                "recipient": "bank-marketing",
                "purpose": "marketing",
                "data_categories": ["basic"],
            },
        ),
        (
            "/api/v1/feedback",
            {"customer_id": customer_id, "survey": "nps", "score": 3, "channel": "web", "comment": COMMENT},
        ),
        (
            "/api/v1/complaints",
            {"customer_id": customer_id, "category": "privacy", "channel": "branch", "description": DESCRIPTION},
        ),
    ):
        response = await once_customer_known(lambda: client.post(gateway + path, json=payload, headers=me))
        assert response.status_code == 201, response.text

    async def known_everywhere():
        rm = system.headers("relationship_manager")
        risk = await client.get(f"{gateway}/api/v1/customers/{customer_id}/churn-risk", headers=rm)
        assert risk.status_code == 200 and risk.json()["features"]["complaints"] == 1
        offers = await client.get(f"{gateway}/api/v1/customers/{customer_id}/recommendations", headers=rm)
        assert offers.status_code == 200 and offers.json()["items"]

    await eventually(known_everywhere)

    officer = system.headers("compliance_officer", "officer-9", **{"X-Access-Reason": "erasure request 2026-118"})
    erased = await client.post(
        f"{gateway}/api/v1/customers/{customer_id}/erasure", json={"reason": "customer request"}, headers=officer
    )
    assert erased.status_code == 202, erased.text
    await kafka.wait_for("crm.customer", lambda e, h: e.customer_id == customer_id and e.type == "customer.erased")

    # Profile: identifiers destroyed, aggregates kept, reads answer 410.
    assert (await client.get(f"{gateway}/api/v1/customers/{customer_id}", headers=officer)).status_code == 410
    [profile_row] = await rows(system, "profile", "SELECT * FROM customers WHERE id = :c", c=customer_id)
    row = profile_row._mapping
    assert all(
        row[f] is None
        for f in ("name", "national_id", "phone", "email", "address", "birth_date", "national_id_index", "phone_index")
    )
    assert row["assets_under_management"] is not None and row["tier"] and row["lifecycle_stage"] == "churned"

    async def forgotten_downstream():
        rm = system.headers("relationship_manager")
        assert (await client.get(f"{gateway}/api/v1/customers/{customer_id}/churn-risk", headers=rm)).status_code == 404
        assert (
            await client.get(f"{gateway}/api/v1/customers/{customer_id}/recommendations", headers=rm)
        ).status_code == 404
        feedback = await rows(
            system, "feedback", "SELECT comment, score FROM feedback WHERE customer_id = :c", c=customer_id
        )
        assert feedback and all(comment is None for comment, _ in feedback)
        assert [score for _, score in feedback] == [3]  # the statistic stays
        complaints = await rows(
            system,
            "feedback",
            "SELECT description, category FROM cases WHERE customer_id = :c AND kind = 'complaint'",
            c=customer_id,
        )
        assert complaints == [(None, "privacy")]
        consents = await rows(system, "consent", "SELECT id FROM consents WHERE customer_id = :c", c=customer_id)
        assert consents == []  # pseudonymised: the id no longer appears

    await eventually(forgotten_downstream, timeout=30)
    # The consent that was active is closed, and says so on the topic.
    await kafka.wait_for("crm.consent", lambda e, h: e.customer_id == customer_id and e.type == "consent.revoked")
