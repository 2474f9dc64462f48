"""Features computed two ways from one definition agree: online (events through the service's
handlers and inbox, state in PostgreSQL) and in batch (the same events from a history file)."""

import math
from datetime import UTC, datetime

import sqlalchemy as sa

from events.contracts import parse_payload
from services.churn.features.batch import fold, read_history
from services.churn.features.definitions import FEATURES, vector
from services.churn.features.models import CustomerFeatures
from tests.churn_data import histories

AT = datetime(2026, 3, 1, tzinfo=UTC)


def _number(value: float | str | None) -> float:
    """A numeric feature's value (vector() also holds categories and unknowns)."""
    assert isinstance(value, int | float), value
    return value


async def test_online_and_batch_features_agree(service, tmp_path):
    churn = await service("churn", CHURN_MODEL_DIR=str(tmp_path / "no-models"))
    events = [e for e in histories(25, AT, seed=21) if e.type != "customer.lifecycle_changed"]
    history = tmp_path / "history.jsonl"
    history.write_text("".join(e.model_dump_json() + "\n" for e in events))
    for envelope in events:  # in the order core banking and the platform published them
        await churn.deliver(envelope)

    batch, _ = fold(read_history(history), AT)
    customer_ids = sorted({e.customer_id for e in events})
    async with churn.sessions() as session:
        rows = {
            r.customer_id: r
            for r in await session.scalars(
                sa.select(CustomerFeatures).where(CustomerFeatures.customer_id.in_(customer_ids))
            )
        }
    assert set(rows) == set(batch) == set(customer_ids)
    compared = 0
    for customer_id in customer_ids:
        online, offline = vector(rows[customer_id].state, AT), vector(batch[customer_id], AT)
        for name in FEATURES:
            a, b = online[name], offline[name]
            if isinstance(a, float) or isinstance(b, float):
                assert isinstance(a, int | float) and isinstance(b, int | float), (customer_id, name, a, b)
                assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9), (customer_id, name, a, b)
                compared += 1
            else:
                assert a == b, (customer_id, name)
    assert compared > 25 * 10
    # The generated histories carry the signals the features are for.
    assert any(_number(vector(s, AT)["complaints_90d"]) > 0 for s in batch.values())
    assert any(_number(vector(s, AT)["balance_trend_30d"] or 0) < -0.1 for s in batch.values())
    assert any(_number(vector(s, AT)["products_closed_90d"]) > 0 for s in batch.values())
    assert {vector(s, AT)["products_held"] for s in batch.values()} >= {None, 0, 1, 2}


async def test_decayed_counts_do_not_depend_on_arrival_order(service, tmp_path):
    churn = await service("churn", CHURN_MODEL_DIR=str(tmp_path / "no-models"))
    events = [e for e in histories(3, AT, seed=33) if e.type in ("complaint.opened", "transaction.posted")]
    for envelope in reversed(events):
        await churn.deliver(envelope)
    batch, _ = fold(((e, parse_payload(e)) for e in events), AT)
    async with churn.sessions() as session:
        for customer_id, state in batch.items():
            row = await session.get(CustomerFeatures, customer_id)
            for name in ("complaints_90d", "transactions_30d", "debit_value_30d"):
                assert math.isclose(
                    _number(vector(row.state, AT)[name]), _number(vector(state, AT)[name]), rel_tol=1e-9
                )


async def test_a_malformed_core_banking_message_is_rejected_for_the_dead_letter_topic(service, tmp_path):
    import pytest

    from events.consumer import RejectEvent

    churn = await service("churn", CHURN_MODEL_DIR=str(tmp_path / "no-models"))
    good = next(e for e in histories(2, AT, seed=5) if e.type == "transaction.posted")
    bad = good.model_copy(update={"payload": {**good.payload, "direction": "sideways"}})
    with pytest.raises(RejectEvent, match="direction"):
        await churn.deliver(bad)
    await churn.deliver(good)
    async with churn.sessions() as session:
        row = await session.get(CustomerFeatures, good.customer_id)
    assert _number(vector(row.state, AT)["transactions_30d"]) > 0
