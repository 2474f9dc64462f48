"""OWASP API1:2023 Broken Object Level Authorization, in the profile service on PostgreSQL: no
existence oracle through a customer's national ID (issue 7, item 10). A manager who creates a
customer already on another manager's book gets the answer a new national ID gets; the record is
theirs, and compliance is told of the duplicate."""

from tests.support import new_customer

MANAGER_A = ("relationship_manager", "rm-dup-a")
MANAGER_B = ("relationship_manager", "rm-dup-b")
OFFICER = ("compliance_officer", "co-dup")


async def create(profile, manager, body):
    async with profile.client(*manager) as http:
        return await http.post("/api/v1/customers", json=body)


def shape(answer) -> tuple:
    """What a caller can compare between two answers, apart from the values of their own record."""
    body = answer.json()
    return answer.status_code, sorted(answer.headers.keys()), sorted(body), body["lifecycle_stage"], body["tier"]


async def test_another_managers_national_id_gets_the_answer_a_new_one_gets(service):
    profile = await service("profile")
    theirs = await create(profile, MANAGER_A, new_customer(lifecycle_stage="active"))
    assert theirs.status_code == 201, theirs.text
    taken_id = new_customer()["national_id"]
    taken = await create(profile, MANAGER_A, new_customer(national_id=taken_id, lifecycle_stage="active"))
    assert taken.status_code == 201

    duplicate = await create(profile, MANAGER_B, new_customer(national_id=taken_id, lifecycle_stage="active"))
    fresh = await create(profile, MANAGER_B, new_customer(lifecycle_stage="active"))

    assert shape(duplicate) == shape(fresh) and duplicate.status_code == 201
    record = duplicate.json()
    assert record["relationship_manager_id"] == "rm-dup-b"
    async with profile.client(*MANAGER_B) as http:
        assert (await http.get(f"/api/v1/customers/{record['id']}")).status_code == 200
        found = await http.post("/api/v1/customers/search", json={"national_id": taken_id})
    assert [c["id"] for c in found.json()] == [record["id"]]  # their own record, never the other

    # Compliance sees both records, to decide whether they are one person.
    async with profile.client(*OFFICER, reason="duplicate review") as http:
        alerts = (await http.get("/api/v1/screening/alerts", params={"customer_id": record["id"]})).json()
    assert [(a["list_name"], a["reason_code"], a["entity_id"]) for a in alerts] == [
        ("customers", "duplicate_customer", taken.json()["id"])
    ]
    [announced] = await profile.published("screening.hit", customer_id=record["id"])
    assert announced.payload["reason_code"] == "duplicate_customer"


async def test_a_national_id_the_caller_can_see_is_still_refused(service):
    profile = await service("profile")
    body = new_customer()
    assert (await create(profile, MANAGER_A, body)).status_code == 201

    again = await create(profile, MANAGER_A, new_customer(national_id=body["national_id"]))
    as_admin = await create(profile, ("admin", "admin-dup"), new_customer(national_id=body["national_id"]))

    assert again.status_code == 409 and "already exists" in again.json()["detail"]
    assert as_admin.status_code == 409  # an admin sees every customer: no secret to keep


async def test_a_second_duplicate_by_the_same_manager_is_refused_as_any_repeat(service):
    profile = await service("profile")
    body = new_customer()
    assert (await create(profile, MANAGER_A, body)).status_code == 201
    assert (await create(profile, MANAGER_B, new_customer(national_id=body["national_id"]))).status_code == 201

    repeat = await create(profile, MANAGER_B, new_customer(national_id=body["national_id"]))

    assert repeat.status_code == 409  # their own record has it now, as after any create
