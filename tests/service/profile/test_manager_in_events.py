"""Customer events name the relationship manager (and, on creation, the tier), so other services
keep managers to their own customers without asking the profile service."""

from tests.support import new_customer


async def test_creation_and_reassignment_publish_the_manager(service):
    profile = await service("profile")
    async with profile.client("relationship_manager", "rm-1") as manager:
        created = await manager.post("/api/v1/customers", json=new_customer())
    assert created.status_code == 201, created.text
    customer_id = created.json()["id"]
    [event] = await profile.published("customer.created", customer_id=customer_id)
    assert event.payload["relationship_manager_id"] == "rm-1"
    assert event.payload["tier"] == created.json()["tier"]

    async with profile.client("admin", "admin-1") as admin:
        moved = await admin.put(
            f"/api/v1/customers/{customer_id}/relationship-manager", json={"relationship_manager_id": "rm-2"}
        )
        assert moved.status_code == 200, moved.text
        again = await admin.put(
            f"/api/v1/customers/{customer_id}/relationship-manager", json={"relationship_manager_id": "rm-2"}
        )
        assert again.status_code == 200
    [change] = await profile.published("customer.manager_changed", customer_id=customer_id)  # the same again: none
    assert (change.payload["previous_manager_id"], change.payload["manager_id"]) == ("rm-1", "rm-2")
