"""Customer events name the customer's manager, so other services (churn tasks) can route work."""

from tests.support import new_customer


async def test_created_and_reassigned_customers_name_their_manager_in_events(service):
    profile = await service("profile")
    async with profile.client("relationship_manager", "rm-7") as http:
        created = await http.post("/api/v1/customers", json=new_customer())
    assert created.status_code == 201, created.text
    customer_id = created.json()["id"]
    [event] = await profile.published("customer.created", customer_id=customer_id)
    assert event.payload["relationship_manager_id"] == "rm-7"

    async with profile.client("admin") as http:
        moved = await http.put(f"/api/v1/customers/{customer_id}/relationship-manager",
                               json={"relationship_manager_id": "rm-8"})
        again = await http.put(f"/api/v1/customers/{customer_id}/relationship-manager",
                               json={"relationship_manager_id": "rm-8"})
    assert moved.status_code == again.status_code == 200, moved.text
    [update] = await profile.published("customer.updated", customer_id=customer_id)  # the same manager twice: one event
    assert update.payload["relationship_manager_id"] == "rm-8"
    assert update.payload["changed_fields"] == ["relationship_manager_id"]
