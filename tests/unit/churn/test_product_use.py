"""Product use as churn features (services/churn/features/definitions.py): products held now and
products closed lately, folded from core banking's holdings in any order, each closing once."""

import itertools
import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from events.contracts import CoreBankingProductClosedV1, CoreBankingProductOpenedV1
from services.churn.features.definitions import apply, event_time, vector

AT = datetime(2026, 11, 1, tzinfo=UTC)


def opened(holding: str, days_ago: float):
    payload = CoreBankingProductOpenedV1(
        customer_id="c-1",
        holding_id=holding,
        product_code="DEP-1Y",
        amount=Decimal("1000"),
        opened_at=AT - timedelta(days=days_ago),
    )
    return "corebanking.product_opened", payload


def closed(holding: str, days_ago: float):
    payload = CoreBankingProductClosedV1(
        customer_id="c-1", holding_id=holding, product_code="DEP-1Y", closed_at=AT - timedelta(days=days_ago)
    )
    return "corebanking.product_closed", payload


def features(events) -> dict:
    state: dict = {}
    for event_type, payload in events:
        apply(state, event_type, event_time(event_type, AT, payload), payload)
    return vector(state, AT)


def test_products_held_and_closed_do_not_depend_on_arrival_order():
    events = [opened("a", 400), opened("b", 300), opened("c", 200), closed("a", 90), closed("b", 0)]
    expected = features(events)
    # One held (c); two closings, one 90 days ago (a half-life: worth one half) and one today.
    assert expected["products_held"] == 1
    assert math.isclose(expected["products_closed_90d"], 1.5)
    for order in itertools.permutations(events):
        found = features(order)
        assert found["products_held"] == 1
        assert math.isclose(found["products_closed_90d"], expected["products_closed_90d"])


def test_a_closing_published_twice_counts_once_and_no_holdings_means_unknown():
    assert features([opened("a", 30), closed("a", 10), closed("a", 10), closed("a", 5)]) == features(
        [opened("a", 30), closed("a", 10)]
    )
    nothing = features([])
    assert nothing["products_held"] is None and nothing["products_closed_90d"] == 0
    assert features([opened("a", 30), closed("a", 1)])["products_held"] == 0
