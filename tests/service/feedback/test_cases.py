"""Case life cycle, scoping by customer and manager, frozen closed cases, lists."""

from tests.service.feedback.conftest import case_body, known_customer, routing_of

AGENT = ("service_agent", "agent-7")


def as_customer(feedback, customer_id):
    return feedback.client("customer", customer_id, customer_scope=customer_id)


async def test_a_case_runs_its_life_cycle_and_is_frozen_once_closed(feedback):
    customer_id = await known_customer(feedback)
    async with as_customer(feedback, customer_id) as me:
        opened = await me.post("/api/v1/cases", json=case_body(customer_id))
    assert opened.status_code == 201, opened.text
    case_id = opened.json()["id"]
    assert opened.json()["actions"] == ["acknowledge"]
    async with feedback.client(*AGENT) as agent:
        for action, body, state in (
            ("acknowledge", {}, "acknowledged"),
            ("start", {"note": "Looked at the statement"}, "in_progress"),
            ("wait", {}, "waiting_on_customer"),
            ("resume", {}, "in_progress"),
            ("resolve", {"root_cause": "fee_error"}, "resolved"),
            ("follow-up", {"note": "Refund confirmed on the call"}, "followed_up"),
            ("close", {}, "closed"),
        ):
            answer = await agent.post(f"/api/v1/cases/{case_id}/{action}", json=body)
            assert answer.status_code == 200, (action, answer.text)
            assert answer.json()["state"] == state
        closed = answer.json()
        assert closed["root_cause"] == "fee_error" and closed["actions"] == ["reopen"]
        assert {c["state"] for c in closed["clocks"]} == {"met"}

        for action, body in (("acknowledge", {}), ("resolve", {"root_cause": "fee_error"}), ("close", {})):
            refused = await agent.post(f"/api/v1/cases/{case_id}/{action}", json=body)
            assert refused.status_code == 409 and "closed" in refused.json()["detail"]
        assert (await agent.post(f"/api/v1/cases/{case_id}/notes", json={"text": "late"})).status_code == 409
        assert (await agent.post(f"/api/v1/cases/{case_id}/assignment", json={"team": "x"})).status_code == 409
        notes = (await agent.get(f"/api/v1/cases/{case_id}/notes")).json()
        assert [n["note_text"] for n in notes] == ["Looked at the statement", "Refund confirmed on the call"]

    async with as_customer(feedback, customer_id) as me:
        reopened = await me.post(f"/api/v1/cases/{case_id}/reopen", json={"note": "Charged again"})
        assert reopened.status_code == 201, reopened.text
        assert reopened.json()["reopened_from"] == case_id and reopened.json()["state"] == "opened"
        mine = (await me.get("/api/v1/cases")).json()["items"]
    assert [c["id"] for c in mine] == [reopened.json()["id"], case_id]
    types = [e.type for e in await feedback.published(customer_id=customer_id)]
    assert types.count("case.opened") == 2 and types.count("complaint.opened") == 1
    assert "case.resolved" in types and "case.closed" in types


async def test_closing_needs_a_configured_root_cause(feedback):
    customer_id = await known_customer(feedback)
    async with feedback.client(*AGENT) as agent:
        case_id = (await agent.post("/api/v1/cases", json=case_body(customer_id))).json()["id"]
        await agent.post(f"/api/v1/cases/{case_id}/acknowledge", json={})
        await agent.post(f"/api/v1/cases/{case_id}/resolve", json={})
        await agent.post(f"/api/v1/cases/{case_id}/follow-up", json={"note": "Customer content"})
        missing = await agent.post(f"/api/v1/cases/{case_id}/close", json={})
        assert missing.status_code == 422 and "fee_error" in missing.json()["detail"]
        wrong = await agent.post(f"/api/v1/cases/{case_id}/close", json={"root_cause": "weather"})
        assert wrong.status_code == 422
        assert (await agent.get(f"/api/v1/cases/{case_id}")).json()["state"] == "followed_up"  # nothing half-written
        assert (await agent.post(f"/api/v1/cases/{case_id}/close", json={"root_cause": "policy"})).status_code == 200


async def test_a_resolved_case_closes_only_after_the_follow_up_which_says_what_the_customer_said(feedback):
    customer_id = await known_customer(feedback)
    async with feedback.client(*AGENT) as agent:
        case_id = (await agent.post("/api/v1/cases", json=case_body(customer_id))).json()["id"]
        await agent.post(f"/api/v1/cases/{case_id}/acknowledge", json={})
        resolved = await agent.post(f"/api/v1/cases/{case_id}/resolve", json={"root_cause": "policy"})
        assert resolved.json()["actions"] == ["follow-up", "reopen"]
        early = await agent.post(f"/api/v1/cases/{case_id}/close", json={})
        assert early.status_code == 409 and early.json()["actions"] == ["follow-up", "reopen"]
        silent = await agent.post(f"/api/v1/cases/{case_id}/follow-up", json={})
        assert silent.status_code == 422 and "note" in silent.text
        assert (await agent.get(f"/api/v1/cases/{case_id}")).json()["state"] == "resolved"  # nothing half-written
        called = await agent.post(f"/api/v1/cases/{case_id}/follow-up", json={"note": "Satisfied with the answer"})
        assert called.status_code == 200 and called.json()["actions"] == ["close", "reopen"]
        assert (await agent.post(f"/api/v1/cases/{case_id}/close", json={})).status_code == 200


async def test_a_transition_not_allowed_from_the_state_says_what_is(feedback):
    customer_id = await known_customer(feedback)
    async with feedback.client(*AGENT) as agent:
        case_id = (await agent.post("/api/v1/cases", json=case_body(customer_id))).json()["id"]
        refused = await agent.post(f"/api/v1/cases/{case_id}/close", json={"root_cause": "policy"})
    assert refused.status_code == 409
    assert refused.json()["actions"] == ["acknowledge"]


async def test_customers_and_managers_see_only_their_own_cases(feedback):
    mine = await known_customer(feedback, manager="rm-1")
    other = await known_customer(feedback, manager="rm-2")
    async with feedback.client(*AGENT) as agent:
        case_id = (await agent.post("/api/v1/cases", json=case_body(mine))).json()["id"]
        other_case = (await agent.post("/api/v1/cases", json=case_body(other))).json()["id"]

    async with as_customer(feedback, other) as stranger:
        assert (await stranger.get(f"/api/v1/cases/{case_id}")).status_code == 404
        assert (await stranger.post(f"/api/v1/cases/{case_id}/reopen", json={})).status_code == 404
        assert (await stranger.post("/api/v1/cases", json=case_body(mine))).status_code == 404
        assert [c["id"] for c in (await stranger.get("/api/v1/cases")).json()["items"]] == [other_case]
    async with as_customer(feedback, mine) as me:
        assert (await me.get(f"/api/v1/cases/{case_id}")).status_code == 200
        assert (await me.post(f"/api/v1/cases/{case_id}/acknowledge", json={})).status_code == 403
    async with feedback.client("relationship_manager", "rm-2") as other_manager:
        assert (await other_manager.get(f"/api/v1/cases/{case_id}")).status_code == 404
        assert (await other_manager.post(f"/api/v1/cases/{case_id}/acknowledge", json={})).status_code == 404
        listed = (await other_manager.get("/api/v1/cases", params={"customer_id": mine})).json()["items"]
        assert listed == []
    async with feedback.client("relationship_manager", "rm-1") as manager:
        assert (await manager.post(f"/api/v1/cases/{case_id}/acknowledge", json={})).status_code == 200
        assert [c["id"] for c in (await manager.get("/api/v1/cases")).json()["items"] if c["customer_id"] == mine] == [
            case_id
        ]


async def test_lists_page_with_a_cursor_and_filter(feedback):
    customer_id = await known_customer(feedback)
    async with feedback.client(*AGENT) as agent:
        ids = [
            (await agent.post("/api/v1/cases", json=case_body(customer_id, category=c))).json()["id"]
            for c in ("fees", "card", "fees", "fees", "account")
        ]
        seen, cursor = [], None
        while True:
            params = {"customer_id": customer_id, "limit": 2, **({"after": cursor} if cursor else {})}
            page = (await agent.get("/api/v1/cases", params=params)).json()
            seen += [c["id"] for c in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == ids[::-1]
        fees = (await agent.get("/api/v1/cases", params={"customer_id": customer_id, "category": "fees"})).json()
        assert len(fees["items"]) == 3
        assert (await agent.get("/api/v1/cases", params={"after": "not-a-cursor"})).status_code == 422


async def test_an_unknown_category_is_refused_and_nothing_is_written(feedback):
    customer_id = await known_customer(feedback)
    async with feedback.client(*AGENT) as agent:
        refused = await agent.post("/api/v1/cases", json=case_body(customer_id, category="weather"))
        assert refused.status_code == 422 and "fees" in refused.json()["detail"]
        assert (await agent.get("/api/v1/cases", params={"customer_id": customer_id})).json()["items"] == []
    assert await feedback.published(customer_id=customer_id) == []


async def test_the_complaint_route_opens_a_complaint_case(feedback):
    customer_id = await known_customer(feedback)
    async with as_customer(feedback, customer_id) as me:
        body = {k: v for k, v in case_body(customer_id).items() if k != "kind"}
        answer = await me.post("/api/v1/complaints", json=body)
        assert answer.status_code == 201, answer.text
        opened = answer.json()
        assert (opened["customer_id"], opened["category"], opened["channel"], opened["status"]) == (
            customer_id, "fees", "branch", "opened",
        )  # fmt: skip
        assert "13800138000" not in answer.text
        case = (await me.get(f"/api/v1/cases/{opened['id']}")).json()
    assert case["kind"] == "complaint" and case["case_description"].startswith("Charged twice")
    [event] = await feedback.published("complaint.opened", customer_id=customer_id)
    assert (event.source, event.version) == ("feedback", 1)
    assert await routing_of(feedback, event) == ("complaint.opened.v1", customer_id)
    assert "13800138000" not in event.model_dump_json()
    assert event.payload == {
        "complaint_id": case["id"],
        "customer_id": customer_id,
        "category": "fees",
        "channel": "branch",
    }
