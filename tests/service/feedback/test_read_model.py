"""The customer read model follows profile events: a reassigned customer's cases go with them to
the new manager; an erased customer's free text is destroyed, the statistics stay."""

import sqlalchemy as sa

from events.contracts import CustomerErasedV1, CustomerTierChangedV1, CustomerUpdatedV1, new_event
from services.kit.clock import now
from tests.service.feedback.conftest import case_body, known_customer


async def test_a_reassigned_customers_cases_follow_them_to_the_new_manager(feedback):
    customer_id = await known_customer(feedback, manager="rm-1")
    async with feedback.client("service_agent", "agent-7") as agent:
        case_id = (await agent.post("/api/v1/cases", json=case_body(customer_id))).json()["id"]
    await feedback.deliver(
        new_event(
            "customer.updated",
            CustomerUpdatedV1(
                customer_id=customer_id,
                risk_level="C3",
                assets_under_management="1000",
                changed_fields=["relationship_manager_id"],
                relationship_manager_id="rm-2",
            ),
            source="profile",
        )
    )
    async with feedback.client("relationship_manager", "rm-1") as before:
        assert (await before.get(f"/api/v1/cases/{case_id}")).status_code == 404
    async with feedback.client("relationship_manager", "rm-2") as after:
        assert (await after.get(f"/api/v1/cases/{case_id}")).status_code == 200


async def test_new_cases_carry_the_customers_current_tier(feedback):
    customer_id = await known_customer(feedback, tier="mass")
    await feedback.deliver(
        new_event(
            "customer.tier_changed",
            CustomerTierChangedV1(customer_id=customer_id, previous_tier="mass", tier="affluent"),
            source="profile",
        )
    )
    async with feedback.client("service_agent", "agent-7") as agent:
        case_id = (await agent.post("/api/v1/cases", json=case_body(customer_id))).json()["id"]
    async with feedback.sessions() as session:
        assert await session.scalar(sa.text("SELECT tier FROM cases WHERE id = :i"), {"i": case_id}) == "affluent"


async def test_erasure_destroys_free_text_and_keeps_the_statistics(feedback):
    customer_id = await known_customer(feedback)
    async with feedback.client("service_agent", "agent-7") as agent:
        case_id = (await agent.post("/api/v1/cases", json=case_body(customer_id))).json()["id"]
        await agent.post(f"/api/v1/cases/{case_id}/notes", json={"text": "Spoke to Wang Fang"})
        await agent.post(
            "/api/v1/feedback",
            json={"customer_id": customer_id, "survey": "nps", "score": 9, "channel": "web", "comment": "Ask for Wang"},
        )
    await feedback.deliver(
        new_event("customer.erased", CustomerErasedV1(customer_id=customer_id, erased_at=now()), source="profile")
    )
    async with feedback.sessions() as session:
        texts = (
            await session.execute(
                sa.text(
                    "SELECT c.description, n.body, f.comment, c.category, f.score FROM cases c"
                    " JOIN case_notes n ON n.case_id = c.id JOIN feedback f ON f.customer_id = c.customer_id"
                    " WHERE c.id = :i"
                ),
                {"i": case_id},
            )
        ).one()
    assert texts == (None, None, None, "fees", 9)
