"""Service KPIs against values computed by hand from a small fixture (see the comments)."""

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from events.contracts import CustomerCreatedV1, new_event
from services.kit.clock import movable

T = datetime(2025, 3, 3, tzinfo=UTC)  # a Monday; the window is [T, T + 7 days)
WINDOW = {"from": "2025-03-03T00:00:00Z", "to": "2025-03-10T00:00:00Z"}
AGENT = ("service_agent", "agent-7")
CUSTOMERS = {"A": "mass", "B": "mass", "C": "affluent", "D": "high_net_worth"}
MANAGERS = {"A": "rm-1", "B": "rm-1", "C": "rm-2", "D": "rm-2"}


def at(hours: float) -> datetime:
    return T + timedelta(hours=hours)


async def build_fixture(feedback) -> None:
    async with feedback.engine.begin() as connection:  # this test needs the database to itself
        await connection.execute(
            sa.text(
                "TRUNCATE known_customers, case_notes, sla_clocks, cases, feedback, survey_invitations, "
                "kpi_answers_hourly, kpi_cases_hourly, kpi_answers_daily, kpi_cases_daily"
            )
        )
    for name, tier in CUSTOMERS.items():
        await feedback.deliver(
            new_event(
                "customer.created",
                CustomerCreatedV1(
                    customer_id=name,
                    risk_level="C3",
                    assets_under_management="1000",
                    relationship_manager_id=MANAGERS[name],
                    tier=tier,
                ),
                source="profile",
            )
        )

    cases: dict[str, str] = {}
    with movable(at(0)) as clock:
        async with feedback.client(*AGENT) as agent:

            async def answer(when, customer, survey, score, channel, follow_up=None):
                clock.to(when)
                body = {"customer_id": customer, "survey": survey, "score": score, "channel": channel}
                created = (await agent.post("/api/v1/feedback", json=body)).json()
                if follow_up:
                    cases[follow_up] = created["follow_up_case_id"]

            async def open_case(when, key, customer, kind, category, channel, complexity="simple"):
                clock.to(when)
                body = {
                    "customer_id": customer,
                    "kind": kind,
                    "category": category,
                    "channel": channel,
                    "complexity": complexity,
                    "description": "text",
                }
                cases[key] = (await agent.post("/api/v1/cases", json=body)).json()["id"]

            async def act(when, key, action, **body):
                clock.to(when)
                answer = await agent.post(f"/api/v1/cases/{cases[key]}/{action}", json=body)
                assert answer.status_code == 200, answer.text

            await answer(at(-24), "A", "csat", 1, "web")  # before the window: counts nowhere
            await answer(at(1), "A", "csat", 5, "web")
            await answer(at(2), "B", "csat", 2, "mobile", follow_up="F1")  # detractor
            await open_case(at(3), "K1", "A", "complaint", "fees", "web", "complex")
            await act(at(3), "F1", "acknowledge")  # 1 h
            await open_case(at(4), "K2", "B", "complaint", "card", "mobile")
            await act(at(4), "F1", "resolve")  # 2 h
            await act(at(5), "K1", "acknowledge")  # 2 h
            await act(at(5), "F1", "close", root_cause="contacted_resolved")  # in time
            await answer(at(25), "C", "nps", 10, "web")
            await answer(at(26), "D", "nps", 3, "branch", follow_up="F2")  # detractor
            await answer(at(27), "A", "nps", 8, "web")
            await act(at(27), "F2", "acknowledge")  # 1 h
            await answer(at(28), "B", "nps", 9, "web")
            await open_case(at(29), "K3", "C", "request", "account", "branch")
            await act(at(30), "K2", "acknowledge")  # 26 h: first answer breached
            await act(at(30), "K3", "acknowledge")  # 1 h
            await act(at(32), "K2", "resolve")  # 28 h
            await act(at(33), "K1", "resolve", root_cause="fee_error")  # 30 h
            await act(at(34), "K1", "follow-up", note="Fee refunded; customer content")
            await act(at(34), "K1", "close")
            await answer(at(49), "C", "ces", 2, "web")
            await answer(at(50), "D", "ces", 7, "branch", follow_up="F3")  # detractor, left open
            await act(at(80), "F2", "resolve")  # 54 h
            await act(at(81), "F2", "close", root_cause="contacted_unresolved")  # 55 h: late
        async with feedback.client("customer", "A", customer_scope="A") as customer:
            clock.to(at(40))
            assert (await customer.post(f"/api/v1/cases/{cases['K1']}/reopen", json={})).status_code == 201


async def kpis(feedback, caller=("compliance_officer", "officer-1"), **params) -> dict:
    async with feedback.client(*caller) as http:
        answer = await http.get("/api/v1/kpis/service", params={**WINDOW, **params})
    assert answer.status_code == 200, answer.text
    return {kpi["name"]: kpi for kpi in answer.json()["kpis"]}


async def test_service_kpis_match_the_hand_computed_values(feedback):
    await build_fixture(feedback)
    report = await kpis(feedback)
    values = {name: (kpi["value"], kpi["count"]) for name, kpi in report.items()}
    assert values == {
        "csat": (0.5, 2),  # 5 and 2: one of two satisfied (4-5)
        "nps": (25.0, 4),  # 10, 3, 8, 9: two promoters, one detractor of four
        "ces": (4.5, 2),  # (2 + 7) / 2
        "complaint_rate": (500.0, 4),  # K1, K2 (the reopened R1 is not a new complaint) per 4 customers
        # Seven cases opened in the window: K1, K2, K3, F1, F2, F3 and R1 (K1 reopened);
        # K2 answered late, F2 closed late.
        "sla_breach_rate": (round(2 / 7, 4), 7),
        "mean_time_to_first_answer": (6.2, 5),  # K1 2, K2 26, K3 1, F1 1, F2 1
        "mean_time_to_resolve": (28.5, 4),  # K1 30, K2 28, F1 2, F2 54
        "resolution_rate": (round(4 / 7, 4), 7),  # K1, K2, F1, F2 of the seven opened
        "closed_loop_rate": (round(1 / 3, 4), 3),  # of three detractors only F1 was closed in time
        "reopen_rate": (0.25, 4),  # K1 of K1, K2, F1, F2
    }
    assert report["csat"]["drill"].startswith("/api/v1/survey-answers?survey=csat&from=2025-03-03")
    series = [(p["bucket"], p["value"]) for p in report["complaint_rate"]["series"]]
    assert series == [("2025-03-03", 500.0), ("2025-03-04", 0.0), ("2025-03-05", 0.0)]  # K3 + F2 + R1; F3


async def test_a_relationship_manager_gets_the_figures_of_their_own_portfolio(feedback):
    await build_fixture(feedback)
    mine = await kpis(feedback, ("relationship_manager", "rm-1"))
    values = {name: (kpi["value"], kpi["count"]) for name, kpi in mine.items()}
    assert values == {  # rm-1 manages A and B
        "csat": (0.5, 2),  # A 5, B 2
        "nps": (50.0, 2),  # A 8 (passive), B 9 (promoter)
        "ces": (None, 0),
        "complaint_rate": (1000.0, 2),  # K1 and K2 per two customers
        "sla_breach_rate": (0.25, 4),  # K1, K2 (late), F1, R1
        "mean_time_to_first_answer": (round(29 / 3, 4), 3),  # K1 2, K2 26, F1 1
        "mean_time_to_resolve": (20.0, 3),  # K1 30, K2 28, F1 2
        "resolution_rate": (0.75, 4),  # K1, K2, F1 of K1, K2, F1, R1
        "closed_loop_rate": (1.0, 1),  # B's detractor answer, F1 closed in time
        "reopen_rate": (round(1 / 3, 4), 3),  # K1 of K1, K2, F1
    }
    theirs = await kpis(feedback, ("relationship_manager", "rm-2"))
    assert (theirs["nps"]["value"], theirs["nps"]["count"]) == (0.0, 2)  # C 10, D 3
    assert theirs["csat"]["count"] == 0 and theirs["complaint_rate"]["value"] == 0.0
    nobodys = await kpis(feedback, ("relationship_manager", "rm-without-customers"))
    assert all(kpi["count"] == 0 for kpi in nobodys.values())


async def test_service_kpis_break_down_by_channel_and_tier(feedback):
    await build_fixture(feedback)
    by_channel = await kpis(feedback, by="channel")
    assert {g["key"]: g["value"] for g in by_channel["csat"]["breakdown"]} == {"mobile": 0.0, "web": 1.0}
    assert {g["key"]: g["value"] for g in by_channel["complaint_rate"]["breakdown"]} == {
        "branch": 0.0,
        "mobile": 250.0,
        "web": 250.0,
    }
    by_tier = await kpis(feedback, by="tier", bucket="week")
    # Per 1,000 customers of the tier: two mass customers complained, of two.
    assert {g["key"]: g["value"] for g in by_tier["complaint_rate"]["breakdown"]} == {
        "affluent": 0.0,
        "high_net_worth": 0.0,
        "mass": 1000.0,
    }
    assert {g["key"]: (g["value"], g["count"]) for g in by_tier["sla_breach_rate"]["breakdown"]} == {
        "affluent": (0.0, 1),
        "high_net_worth": (0.5, 2),
        "mass": (0.25, 4),
    }
    assert [p["bucket"] for p in by_tier["nps"]["series"]] == ["2025-03-03"]
    by_product = await kpis(feedback, by="product")
    assert [g["key"] for g in by_product["nps"]["breakdown"]] == ["unknown"]


async def test_a_kpi_query_outside_the_rules_is_refused(feedback):
    async with feedback.client("compliance_officer", "officer-1") as http:
        assert (await http.get("/api/v1/kpis/service", params={**WINDOW, "by": "colour"})).status_code == 422
        assert (
            await http.get("/api/v1/kpis/service", params={"from": WINDOW["to"], "to": WINDOW["from"]})
        ).status_code == 422


async def test_hourly_and_daily_sums_give_what_a_scan_of_every_item_gives(feedback):
    from services.feedback.kpis.service import report
    from services.kit.kpi import KpiWindow

    await build_fixture(feedback)
    windows = [(at(0), at(24 * 7)), (at(0.5), at(49.25)), (at(2.2), at(2.7)), (at(-30), at(90))]
    for start, end in windows:
        for by, bucket in ((None, "day"), ("channel", "week"), ("tier", "day"), ("product", "month")):
            window = KpiWindow(start=start, end=end, by=by, bucket=bucket)
            async with feedback.sessions() as session:
                summed = await report(session, window)
                scanned = await report(session, window, use_hourly_sums=False)
            assert summed.model_dump() == scanned.model_dump(), (start, end, by)
    async with feedback.sessions() as session:
        rows = await session.scalar(sa.text("SELECT count(*) FROM kpi_answers_hourly"))
        days = await session.scalar(sa.text("SELECT count(*) FROM kpi_answers_daily WHERE dimension = ''"))
    assert 0 < rows <= 9  # one row per hour and group with answers, not one per answer
    assert 0 < days <= rows  # one total per day with answers


async def test_daily_sums_rebuilt_from_the_hourly_ones_equal_those_kept_on_every_change(feedback):
    from services.feedback.kpis.rollup import daily_statements

    await build_fixture(feedback)
    tables = ("kpi_answers_daily", "kpi_cases_daily")

    async def contents() -> dict[str, list]:
        async with feedback.engine.connect() as connection:
            return {
                table: sorted(map(tuple, (await connection.execute(sa.text(f"SELECT * FROM {table}"))).all()))
                for table in tables
            }

    kept = await contents()
    async with feedback.engine.begin() as connection:
        for statement in daily_statements(connection.dialect.name):
            await connection.execute(sa.text(statement))
    assert kept["kpi_cases_daily"] and await contents() == kept
