"""Decisions as of now take the fast path (one prepared statement, no transaction, or a
replica's decision index holding what it read); they must answer exactly what the history path
answers for the same instant, in every state a consent can be in."""

import asyncio
import itertools
import json
import uuid
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from services.consent import service as consents
from services.consent.schemas import DecisionRequest
from services.consent.service import _CONSENTS_OF_PAIR, DecisionIndex, answer_from
from services.kit import clock


async def test_the_fast_path_answers_as_the_history_path_does(service):
    consent = await service("consent")
    customer = f"cust-{uuid.uuid4()}"
    # Decided at frozen moments below, so the expiry can leave a loaded machine time to grant it.
    soon = (datetime.now(UTC) + timedelta(seconds=60)).isoformat()
    await consent.know_customer(customer)

    async def grant(**overrides) -> dict:
        body = {
            "customer_id": customer,
            "recipient": "wealth-management",
            "purpose": "marketing",
            "data_categories": ["basic", "behaviour"],
            "channel": "mobile",
            **overrides,
        }
        async with consent.client("customer", customer, customer_scope=customer) as http:
            answer = await http.post("/api/v1/consents", json=body)
        assert answer.status_code == 201, answer.text
        return answer.json()

    await grant()  # active, marketing, basic + behaviour
    await grant(purpose="credit_assessment", data_categories=["basic"])
    revoked = await grant(recipient="insurer.one")
    async with consent.client("customer", customer, customer_scope=customer) as http:
        assert (await http.post(f"/api/v1/consents/{revoked['id']}/revoke")).status_code == 200
    await grant(recipient="insurer.two", expires_at=soon)  # lapses in a minute

    asks = [
        DecisionRequest(customer_id=c, recipient=r, purpose=p, data_categories=d)
        for c, r, p, d in itertools.product(
            [customer, f"cust-{uuid.uuid4()}"],
            ["wealth-management", "insurer.one", "insurer.two", "nobody"],
            ["marketing", "credit_assessment", "analytics"],
            [["basic"], ["basic", "behaviour"], ["risk"]],
        )
    ]
    reader = consent.app.state.decisions
    assert reader.index is None  # an app without background work keeps none: every answer is read
    # A replica's index (nothing follows the topic here: shown current by hand), filled as the
    # reader reads.
    index = DecisionIndex("-", customers=100, ttl_seconds=600)
    index.follower._current_as_of = float("inf")
    kept = consents.DecisionReader(reader.connections, 1, index)
    pairs = [(ask.customer_id, ask.recipient) for ask in asks]
    answers = set()
    expected: dict[datetime, list] = {}
    for moment in (datetime.now(UTC), datetime.now(UTC) + timedelta(minutes=2), datetime.now(UTC) - timedelta(days=1)):
        with clock.frozen_at(moment):
            for ask in asks:
                fast = await reader.decide(ask)
                async with consent.sessions() as session:
                    slow = await consents.decide(session, ask.model_copy(update={"as_of": moment}))
                assert fast == slow, (ask, fast, slow)
                assert await kept.decide(ask) == slow, ask  # read, or answered from what it keeps
                answers.add(fast.reason)
                expected.setdefault(moment, []).append(fast)
            # Read all at once (one statement per pair, pipelined), and asked side by side (the
            # asks that wait for a call in flight go together in the next): the same answers.
            read = await reader.read_all(pairs)
            assert [answer_from(ask, held, moment) for ask, held in zip(asks, read, strict=True)] == expected[moment]
            assert list(await asyncio.gather(*(reader.decide(ask) for ask in asks))) == expected[moment]
    assert all(index.get(*pair) is not None for pair in pairs)  # every pair's consents were kept
    # The states above reach every reason but "pending" and "rejected" (maker-checker only).
    assert answers >= {
        "active_consent",
        "no_consent",
        "purpose_not_consented",
        "categories_not_covered",
        "consent_expired",
        "consent_revoked",
    }


def _nodes(plan: dict) -> list[dict]:
    return [plan, *(node for child in plan.get("Plans", ()) for node in _nodes(child))]


async def test_the_decision_reads_its_rows_from_indexes_in_the_order_it_needs_without_sorting(consent):
    """The hottest statement (`_CONSENTS_OF_PAIR`) is planned as index scans that find its rows by every
    condition and give them newest first: no sort and no filtering per decision. Whole-table
    scans are ruled out, since this test's tables are small enough for the planner to prefer them."""
    statement = _CONSENTS_OF_PAIR.replace("$1", ":customer").replace("$2", ":recipient")
    async with consent.sessions() as session:
        await session.execute(sa.text("SET LOCAL enable_seqscan = off"))
        (plan,) = (
            await session.execute(
                sa.text("EXPLAIN (FORMAT JSON) " + statement),
                {"customer": "cust-1", "recipient": "insurer.one"},
            )
        ).scalar_one()
    nodes = _nodes(plan["Plan"])
    described = json.dumps(plan)
    assert not [node for node in nodes if "Sort" in node["Node Type"]], described
    scans = {node["Relation Name"]: node for node in nodes if "Relation Name" in node}
    assert set(scans) == {"consents", "consent_history"}, described
    assert all(node["Node Type"] == "Index Scan" and "Filter" not in node for node in scans.values()), described
