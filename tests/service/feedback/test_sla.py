"""SLA clocks against a controllable clock: warning, breach and escalation, pause and resume,
exactly once across restarts and concurrent replicas."""

import asyncio
from datetime import timedelta

from services.feedback.sla.service import escalate_due
from services.kit.clock import movable
from tests.service.feedback.conftest import T0, case_body, known_customer

AGENT = ("service_agent", "agent-7")


async def _run_job(feedback) -> int:
    return await escalate_due(feedback.sessions, feedback.spec.settings)


async def _sla_events(feedback, customer_id):
    return [
        (e.type, e.payload["clock"])
        for e in await feedback.published(customer_id=customer_id)
        if e.type in ("case.sla_warning", "case.escalated")
    ]


async def _open(feedback, customer_id, **overrides) -> dict:
    async with feedback.client(*AGENT) as http:
        answer = await http.post("/api/v1/cases", json=case_body(customer_id, **overrides))
    assert answer.status_code == 201, answer.text
    return answer.json()


async def test_warning_then_breach_escalates_to_a_supervisor_once(feedback):
    with movable(T0) as frozen:
        customer_id = await known_customer(feedback)
        case = await _open(feedback, customer_id)  # simple fees case: first answer 24 h, resolution 24 h
        clocks = {c["kind"]: c for c in case["clocks"]}
        assert clocks["first_answer"]["breach_at"] == (T0 + timedelta(hours=24)).isoformat().replace("+00:00", "Z")

        frozen.to(T0 + timedelta(hours=17, minutes=59))
        await _run_job(feedback)
        assert await _sla_events(feedback, customer_id) == []

        frozen.to(T0 + timedelta(hours=18))  # 75 % of 24 h
        await _run_job(feedback)
        await _run_job(feedback)
        warnings = await _sla_events(feedback, customer_id)
        assert sorted(warnings) == [("case.sla_warning", "first_answer"), ("case.sla_warning", "resolution")]

        frozen.to(T0 + timedelta(hours=24))
        await _run_job(feedback)
        await _run_job(feedback)
        events = await _sla_events(feedback, customer_id)
        assert sorted(events[2:]) == [("case.escalated", "first_answer"), ("case.escalated", "resolution")]
        [escalated, *_] = [e for e in await feedback.published("case.escalated", customer_id=customer_id)]
        assert escalated.payload["escalated_to"] == "service-supervisors"

        async with feedback.client(*AGENT) as http:
            read = (await http.get(f"/api/v1/cases/{case['id']}")).json()
        assert read["team"] == "service-supervisors" and read["sla_breached"] is True
        assert read["escalated_at"] is not None

        frozen.to(T0 + timedelta(days=5))  # other tests' cases share the database: count this customer's events
        await _run_job(feedback)
        assert len(await _sla_events(feedback, customer_id)) == 4


async def test_an_answer_in_time_stops_the_first_answer_clock(feedback):
    with movable(T0) as frozen:
        customer_id = await known_customer(feedback)
        case = await _open(feedback, customer_id, complexity="complex")  # resolution 48 h
        frozen.to(T0 + timedelta(hours=2))
        async with feedback.client(*AGENT) as http:
            acknowledged = (await http.post(f"/api/v1/cases/{case['id']}/acknowledge", json={})).json()
        clocks = {c["kind"]: c for c in acknowledged["clocks"]}
        assert (clocks["first_answer"]["state"], clocks["first_answer"]["breached"]) == ("met", False)
        assert clocks["resolution"]["breach_at"].startswith("2026-11-04T09:00")

        frozen.to(T0 + timedelta(hours=30))
        await _run_job(feedback)
        assert await _sla_events(feedback, customer_id) == []  # resolution warns at 36 h
        frozen.to(T0 + timedelta(hours=36))
        await _run_job(feedback)
        assert await _sla_events(feedback, customer_id) == [("case.sla_warning", "resolution")]


async def test_waiting_on_the_customer_pauses_the_clock_and_resuming_moves_the_deadline(feedback):
    with movable(T0) as frozen:
        customer_id = await known_customer(feedback)
        case = await _open(feedback, customer_id)  # resolution breaches at 24 h
        async with feedback.client(*AGENT) as http:
            frozen.to(T0 + timedelta(hours=1))
            await http.post(f"/api/v1/cases/{case['id']}/acknowledge", json={})
            frozen.to(T0 + timedelta(hours=10))
            waiting = (await http.post(f"/api/v1/cases/{case['id']}/wait", json={})).json()
            assert {c["kind"]: c["state"] for c in waiting["clocks"]}["resolution"] == "paused"

            frozen.to(T0 + timedelta(hours=40))  # past the original breach time, but paused
            await _run_job(feedback)
            assert await _sla_events(feedback, customer_id) == []

            frozen.to(T0 + timedelta(hours=42))  # waited 32 h: the breach moves from 24 h to 56 h
            resumed = (await http.post(f"/api/v1/cases/{case['id']}/resume", json={})).json()
        resolution = {c["kind"]: c for c in resumed["clocks"]}["resolution"]
        assert resolution["state"] == "running"
        assert resolution["breach_at"].startswith("2026-11-04T17:00")  # T0 + 56 h
        assert resolution["warning_at"].startswith("2026-11-04T11:00")  # T0 + 50 h

        frozen.to(T0 + timedelta(hours=49, minutes=59))
        await _run_job(feedback)
        assert await _sla_events(feedback, customer_id) == []
        frozen.to(T0 + timedelta(hours=50))
        await _run_job(feedback)
        frozen.to(T0 + timedelta(hours=56))
        await _run_job(feedback)
        assert await _sla_events(feedback, customer_id) == [
            ("case.sla_warning", "resolution"),
            ("case.escalated", "resolution"),
        ]


async def test_resolving_after_the_deadline_records_a_breach(feedback):
    with movable(T0) as frozen:
        customer_id = await known_customer(feedback)
        case = await _open(feedback, customer_id)
        async with feedback.client(*AGENT) as http:
            frozen.to(T0 + timedelta(hours=1))
            await http.post(f"/api/v1/cases/{case['id']}/acknowledge", json={})
            frozen.to(T0 + timedelta(hours=30))
            resolved = (await http.post(f"/api/v1/cases/{case['id']}/resolve", json={"root_cause": "fee_error"})).json()
        assert resolved["sla_breached"] is True
        [event] = await feedback.published("case.resolved", customer_id=customer_id)
        assert event.payload["sla_breached"] is True and event.payload["root_cause"] == "fee_error"


async def test_a_restarted_service_escalates_on_time_and_once(service):
    with movable(T0) as frozen:
        first = await service("feedback")
        customer_id = await known_customer(first)
        await _open(first, customer_id)
        frozen.to(T0 + timedelta(hours=18))
        await _run_job(first)

        # The service goes down before the breach and comes back long after it: a new process with
        # nothing in memory finds the stored deadline and escalates once, without a stale warning.
        again = await service("feedback")
        frozen.to(T0 + timedelta(hours=30))
        await _run_job(again)
        await _run_job(again)
        third = await service("feedback")  # and once more after another restart
        await _run_job(third)
        events = await _sla_events(third, customer_id)
        assert sorted(events) == sorted(
            [
                ("case.sla_warning", "first_answer"),
                ("case.sla_warning", "resolution"),
                ("case.escalated", "first_answer"),
                ("case.escalated", "resolution"),
            ]
        )


async def test_replicas_running_the_job_at_once_escalate_each_clock_once(service):
    with movable(T0) as frozen:
        replicas = [await service("feedback") for _ in range(3)]
        customers = [await known_customer(replicas[0]) for _ in range(20)]
        for customer_id in customers:
            await _open(replicas[0], customer_id)
        frozen.to(T0 + timedelta(hours=25))
        await asyncio.gather(*(_run_job(r) for r in replicas for _ in range(3)))
        while await _run_job(replicas[0]):
            pass
        escalations = await replicas[0].published("case.escalated")
        mine = [e for e in escalations if e.customer_id in set(customers)]
        assert len(mine) == 40  # two clocks per case
        assert len({(e.payload["case_id"], e.payload["clock"]) for e in mine}) == 40
