"""Property: no generated customer, product and holdings ever yields a recommendation or a
passed (or warned) check that breaks a hard rule. Each rule is restated here on its own terms."""

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from services.recommendation.ranking import rank
from services.recommendation.rules import CustomerFacts, HoldingFacts, Limits, ProductFacts, Proposal, evaluate

LIMITS = Limits()
money = st.decimals(min_value=0, max_value=10_000_000, places=2, allow_nan=False, allow_infinity=False)
levels = st.integers(1, 5)

customers = st.builds(
    CustomerFacts,
    customer_id=st.just("c"),
    risk_level=st.none() | levels,
    lowest_category=st.booleans(),
    vulnerable=st.booleans(),
    age_band=st.sampled_from([None, "under_18", "18_39", "40_64", "65_79", "80_plus"]),
    assets=money,
    horizon_years=st.none() | st.integers(0, 30),
    liquidity_days=st.none() | st.sampled_from([30, 365]),
    goals=st.lists(st.sampled_from(["preservation", "income", "growth", "protection"]), max_size=2).map(tuple),
)
products = st.builds(
    ProductFacts,
    code=st.text("ABCDEFGH", min_size=1, max_size=4),
    risk_level=levels,
    product_type=st.sampled_from(["deposit", "wealth_management", "fund", "insurance", "loan"]),
    horizon_years=st.integers(0, 30),
    liquidity_days=st.integers(0, 400),
    min_amount=money,
    on_sale=st.booleans(),
)
holdings = st.lists(
    st.builds(HoldingFacts, product_code=st.just("H"), risk_level=levels, amount=money), max_size=4
).map(tuple)


def breaks(c: CustomerFacts, p: ProductFacts, amount: Decimal, held, *, insisted: bool, purpose: str) -> list[str]:
    """The hard rules the pair breaks, restated independently of the rule engine."""
    broken = []
    if not p.on_sale:
        broken.append("on sale")
    if c.risk_level is None and p.risk_level > 2:
        broken.append("assessed")
    if c.lowest_category and p.risk_level > 1:
        broken.append("lowest")
    if c.risk_level is not None and p.risk_level > c.risk_level and not (insisted and not c.lowest_category):
        broken.append("own level")
    if c.horizon_years is not None and p.horizon_years > c.horizon_years:
        broken.append("horizon")
    if c.liquidity_days is not None and p.liquidity_days > c.liquidity_days:
        broken.append("liquidity")
    same = sum((h.amount for h in held if h.risk_level == p.risk_level), Decimal(0)) + amount
    total = max(c.assets, sum((h.amount for h in held), Decimal(0)) + amount)
    if total > 0 and same > LIMITS.concentration[p.risk_level] * total:
        broken.append("concentration")
    if purpose == "sale" and amount < p.min_amount:
        broken.append("minimum")
    if purpose == "recommendation" and p.min_amount > c.assets:
        broken.append("affordable")
    return broken


@settings(max_examples=400, deadline=None)
@given(c=customers, p=products, amount=money, held=holdings, insist=st.booleans())
def test_a_check_that_does_not_block_breaks_no_hard_rule(c, p, amount, held, insist):
    verdict = evaluate(Proposal(c, p, amount, held, "sale", insist), LIMITS)
    if verdict.result != "block":
        assert breaks(c, p, amount, held, insisted=insist, purpose="sale") == []
        if p.risk_level > 3 and (c.vulnerable or c.age_band in ("65_79", "80_plus")):
            assert verdict.result == "warn" and verdict.cooling_off_hours > 0 and verdict.follow_up_days
    else:
        assert breaks(c, p, amount, held, insisted=insist, purpose="sale")  # nothing blocked without a reason


@settings(max_examples=200, deadline=None)
@given(
    c=customers,
    catalogue=st.lists(products, max_size=12, unique_by=lambda p: p.code),
    held=holdings,
    similar=st.dictionaries(st.text("ABCDEFGH", min_size=1, max_size=4), st.floats(0, 1), max_size=5),
)
def test_no_recommendation_breaks_a_hard_rule_and_every_product_is_picked_or_excluded(c, catalogue, held, similar):
    picks, exclusions = rank(c, catalogue, held, similar, LIMITS, limit=50)
    by_code = {p.code: p for p in catalogue}
    for pick in picks:
        p = by_code[pick.product_code]
        assert breaks(c, p, p.min_amount, held, insisted=False, purpose="recommendation") == []
        assert pick.reasons
    for exclusion in exclusions:
        assert exclusion.rule_ids
    assert {p.product_code for p in picks} | {e.product_code for e in exclusions} == set(by_code)
    assert [p.score for p in picks] == sorted((p.score for p in picks), reverse=True)
