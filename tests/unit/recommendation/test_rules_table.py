"""Every customer level against every product level, and every hard rule, as a table."""

from decimal import Decimal

import pytest

from services.recommendation.rules import (
    RULES,
    CustomerFacts,
    HoldingFacts,
    Limits,
    ProductFacts,
    Proposal,
    evaluate,
)

LIMITS = Limits()
RICH = Decimal("10000000")


def customer(level: int | None = 3, **facts) -> CustomerFacts:
    return CustomerFacts(customer_id="c-1", risk_level=level, assets=facts.pop("assets", RICH), **facts)


def product(level: int = 3, **facts) -> ProductFacts:
    defaults = {
        "code": "P-1",
        "product_type": "fund",
        "horizon_years": 1,
        "liquidity_days": 1,
        "min_amount": Decimal("1000"),
    }
    return ProductFacts(risk_level=level, **{**defaults, **facts})


def judge(c: CustomerFacts, p: ProductFacts, amount="1000", holdings=(), purpose="sale", override=False):
    return evaluate(Proposal(c, p, Decimal(amount), tuple(holdings), purpose, override), LIMITS)


@pytest.mark.parametrize("c", [None, 1, 2, 3, 4, 5], ids=lambda c: f"C{c}" if c else "unassessed")
@pytest.mark.parametrize("r", [1, 2, 3, 4, 5], ids=lambda r: f"R{r}")
def test_every_customer_level_against_every_product_level(c, r):
    verdict = judge(customer(c), product(r))
    if c is None:
        expected = ("pass", []) if r <= 2 else ("block", ["ASSESSED"])
    elif r <= c:
        expected = ("pass", [])
    else:
        expected = ("block", ["OWN-LEVEL"])
    assert (verdict.result, verdict.rule_ids) == expected
    assert verdict.overridable == (c is not None and r > c)


# (rule id, proposal that fires it, expected result, same proposal just inside the rule)
CASES: dict[str, tuple[dict, str, dict]] = {
    "ON-SALE": (dict(p=product(on_sale=False)), "block", dict(p=product())),
    "ASSESSED": (dict(c=customer(None), p=product(3)), "block", dict(c=customer(None), p=product(2))),
    "LOWEST": (
        dict(c=customer(5, lowest_category=True), p=product(2)),
        "block",
        dict(c=customer(5, lowest_category=True), p=product(1)),
    ),
    "OWN-LEVEL": (dict(c=customer(2), p=product(3)), "block", dict(c=customer(3), p=product(3))),
    "ELDERLY-VULNERABLE": (
        dict(c=customer(5, age_band="80_plus"), p=product(4)),
        "warn",
        dict(c=customer(5, age_band="80_plus"), p=product(3)),
    ),
    "HORIZON": (
        dict(c=customer(3, horizon_years=1), p=product(horizon_years=3)),
        "block",
        dict(c=customer(3, horizon_years=3), p=product(horizon_years=3)),
    ),
    "LIQUIDITY": (
        dict(c=customer(3, liquidity_days=30), p=product(liquidity_days=365)),
        "block",
        dict(c=customer(3, liquidity_days=365), p=product(liquidity_days=365)),
    ),
    "CONCENTRATION": (
        dict(c=customer(5, assets=Decimal("100000")), p=product(5), amount="20000.01"),
        "block",
        dict(c=customer(5, assets=Decimal("100000")), p=product(5), amount="20000"),
    ),
    "MIN-AMOUNT": (
        dict(p=product(min_amount=Decimal("5000")), amount="4999.99"),
        "block",
        dict(p=product(min_amount=Decimal("5000")), amount="5000"),
    ),
    "AFFORDABLE": (
        dict(
            c=customer(3, assets=Decimal("199999")),
            p=product(1, min_amount=Decimal("200000")),
            amount="200000",
            purpose="recommendation",
        ),
        "block",
        dict(
            c=customer(3, assets=Decimal("200000")),
            p=product(1, min_amount=Decimal("200000")),
            amount="200000",
            purpose="recommendation",
        ),
    ),
}


def _run(case: dict):
    case = dict(case)
    return judge(case.pop("c", customer()), case.pop("p", product()), **case)


def test_the_table_covers_every_rule():
    assert set(CASES) == {rule.id for rule in RULES}


@pytest.mark.parametrize("rule_id", list(CASES))
def test_each_rule_fires_alone_with_its_reason_and_not_just_inside(rule_id):
    fires, result, inside = CASES[rule_id]
    verdict = _run(fires)
    assert verdict.result == result
    assert [f.rule_id for f in verdict.findings] == [rule_id]
    assert verdict.findings[0].reason
    assert _run(inside).result == "pass"


def test_elderly_or_vulnerable_get_cooling_off_and_a_follow_up_only_above_r3():
    for facts in (dict(age_band="65_79"), dict(vulnerable=True)):
        verdict = judge(customer(5, **facts), product(4))
        assert (verdict.result, verdict.cooling_off_hours, verdict.follow_up_days) == ("warn", 24, 3)
    assert judge(customer(5, age_band="40_64"), product(5)).cooling_off_hours == 0


def test_insisting_turns_only_the_own_level_block_into_a_warning_and_never_for_the_lowest():
    insisted = judge(customer(2), product(4), override=True)
    assert insisted.result == "warn" and insisted.overridden
    lowest = judge(customer(2, lowest_category=True), product(4), override=True)
    assert lowest.result == "block" and not lowest.overridden and not lowest.overridable
    both = judge(customer(2, horizon_years=0), product(4, horizon_years=5), override=True)
    assert both.result == "block" and both.rule_ids == ["OWN-LEVEL", "HORIZON"] and not both.overridable
    assert judge(customer(2), product(4), purpose="recommendation", override=True).result == "block"


def test_concentration_counts_holdings_at_the_same_level_only():
    held = [HoldingFacts("A", 5, Decimal("15000")), HoldingFacts("B", 1, Decimal("80000"))]
    c = customer(5, assets=Decimal("100000"))
    assert judge(c, product(5), amount="5000", holdings=held).result == "pass"
    assert judge(c, product(5), amount="5001", holdings=held).rule_ids == ["CONCENTRATION"]
    # Holdings beyond the assets the profile knows of count as assets.
    assert judge(customer(5, assets=Decimal(0)), product(1, min_amount=Decimal(0)), amount="10").result == "pass"
