"""The hard suitability rules (R3.2), applied before any ranking. Pure functions over facts.

Every rule has an id, a sentence a person can read, and a check returning a finding with the
specifics when it fires. `evaluate` applies them all to one proposal (customer, product,
amount, holdings) and says pass, warn or block. Nothing here reads a database or the clock, so
a stored decision's inputs replay to the same answer (see `services.recommendation.proof`).
"""

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Literal, overload

RULESET_VERSION = "2026-11-28.1"
ELDERLY_AGE_BANDS = frozenset({"65_79", "80_plus"})
ProductType = Literal["deposit", "wealth_management", "fund", "insurance", "loan"]
Effect = Literal["block", "warn"]
Result = Literal["pass", "warn", "block"]
# What is judged: a proposed sale, a product for a recommendation list, or a holding re-matched.
Purpose = Literal["sale", "recommendation", "holding"]


@overload
def level(code: str) -> int: ...
@overload
def level(code: None) -> None: ...
def level(code: str | None) -> int | None:
    """'C3' or 'R3' -> 3; None stays None."""
    return None if code is None else int(code[1])


@dataclass(frozen=True)
class CustomerFacts:
    customer_id: str
    risk_level: int | None  # 1..5 from a valid assessment; None when there is none (or it expired)
    lowest_category: bool = False
    vulnerable: bool = False
    age_band: str | None = None
    assets: Decimal = Decimal("0")
    horizon_years: int | None = None  # the longest the customer will commit money for
    liquidity_days: int | None = None  # the customer may need the money within this many days
    goals: tuple[str, ...] = ()

    @property
    def elderly(self) -> bool:
        return self.age_band in ELDERLY_AGE_BANDS


@dataclass(frozen=True)
class ProductFacts:
    code: str
    risk_level: int  # 1..5
    product_type: str
    horizon_years: int  # how long the money is committed (0: none)
    liquidity_days: int  # how long it takes to get the money back
    min_amount: Decimal
    complexity: str = "simple"
    on_sale: bool = True


@dataclass(frozen=True)
class HoldingFacts:
    product_code: str
    risk_level: int
    amount: Decimal


@dataclass(frozen=True)
class Limits:
    """Settings the rules read (from configuration, stored with each decision)."""

    # Maximum share of the customer's assets held at each product risk level.
    concentration: dict[int, Decimal] = field(
        default_factory=lambda: {1: Decimal(1), 2: Decimal(1), 3: Decimal("0.6"), 4: Decimal("0.4"), 5: Decimal("0.2")}
    )
    cooling_off_hours: int = 24
    follow_up_days: int = 3


@dataclass(frozen=True)
class Proposal:
    customer: CustomerFacts
    product: ProductFacts
    amount: Decimal
    holdings: tuple[HoldingFacts, ...] = ()
    purpose: Purpose = "sale"
    # The customer insists on a product above their level and acknowledged the written warning.
    override_acknowledged: bool = False


@dataclass(frozen=True)
class Finding:
    rule_id: str
    effect: Effect
    reason: str
    overridden: bool = False


@dataclass(frozen=True)
class Rule:
    id: str
    sentence: str
    check: Callable[[Proposal, Limits], Finding | None]
    purposes: frozenset[str] = frozenset({"sale", "recommendation"})


def _on_sale(p: Proposal, limits: Limits) -> Finding | None:
    if not p.product.on_sale:
        return Finding("ON-SALE", "block", f"{p.product.code} is withdrawn from sale.")
    return None


def _assessed(p: Proposal, limits: Limits) -> Finding | None:
    if p.customer.risk_level is None and p.product.risk_level > 2:
        return Finding(
            "ASSESSED",
            "block",
            f"The customer has no valid risk assessment, so nothing above R2 (product is R{p.product.risk_level}).",
        )
    return None


def _lowest(p: Proposal, limits: Limits) -> Finding | None:
    if p.customer.lowest_category and p.product.risk_level > 1:
        return Finding(
            "LOWEST", "block", f"The customer is in the lowest category: R1 only (product is R{p.product.risk_level})."
        )
    return None


def _own_level(p: Proposal, limits: Limits) -> Finding | None:
    c, r = p.customer.risk_level, p.product.risk_level
    if c is None or r <= c:
        return None
    reason = f"Product risk R{r} is above the customer's level C{c}."
    if p.override_acknowledged and not p.customer.lowest_category and p.purpose == "sale":
        return Finding(
            "OWN-LEVEL",
            "warn",
            reason + " The customer insisted after acknowledging the written warning.",
            overridden=True,
        )
    return Finding("OWN-LEVEL", "block", reason)


def _elderly(p: Proposal, limits: Limits) -> Finding | None:
    if p.product.risk_level > 3 and (p.customer.elderly or p.customer.vulnerable):
        who = "aged 65 or over" if p.customer.elderly else "vulnerable"
        return Finding(
            "ELDERLY-VULNERABLE",
            "warn",
            f"The customer is {who} and the product is R{p.product.risk_level}: "
            f"{limits.cooling_off_hours} h cooling-off and a follow-up within {limits.follow_up_days} days.",
        )
    return None


def _horizon(p: Proposal, limits: Limits) -> Finding | None:
    stated = p.customer.horizon_years
    if stated is not None and p.product.horizon_years > stated:
        return Finding(
            "HORIZON",
            "block",
            f"The product commits money for {p.product.horizon_years} years; the customer's horizon is {stated}.",
        )
    return None


def _liquidity(p: Proposal, limits: Limits) -> Finding | None:
    need = p.customer.liquidity_days
    if need is not None and p.product.liquidity_days > need:
        return Finding(
            "LIQUIDITY",
            "block",
            f"Money comes back in {p.product.liquidity_days} days; the customer may need it within {need}.",
        )
    return None


def _concentration(p: Proposal, limits: Limits) -> Finding | None:
    share = limits.concentration.get(p.product.risk_level, Decimal(1))
    if share >= 1:
        return None  # a level's holdings never exceed all holdings, nor the assets they count in
    at_level = sum((h.amount for h in p.holdings if h.risk_level == p.product.risk_level), Decimal(0)) + p.amount
    held = sum((h.amount for h in p.holdings), Decimal(0)) + p.amount
    base = max(p.customer.assets, held)
    if base > 0 and at_level > share * base:
        return Finding(
            "CONCENTRATION",
            "block",
            f"R{p.product.risk_level} holdings would be {at_level / base:.0%} of the customer's assets; "
            f"the limit is {share:.0%}.",
        )
    return None


def _minimum(p: Proposal, limits: Limits) -> Finding | None:
    if p.amount < p.product.min_amount:
        return Finding("MIN-AMOUNT", "block", f"The amount is below the product's minimum of {p.product.min_amount}.")
    return None


def _affordable(p: Proposal, limits: Limits) -> Finding | None:
    if p.product.min_amount > p.customer.assets:
        return Finding(
            "AFFORDABLE", "block", f"The product's minimum of {p.product.min_amount} exceeds the customer's assets."
        )
    return None


ALL = frozenset({"sale", "recommendation", "holding"})
RULES: tuple[Rule, ...] = (
    Rule("ON-SALE", "Only products on sale are sold or recommended.", _on_sale),
    Rule(
        "ASSESSED", "Nothing above R2 without a valid risk assessment (an expired one counts as none).", _assessed, ALL
    ),
    Rule(
        "LOWEST",
        "A customer in the lowest category (not fully legally competent, or unwilling to bear any "
        "loss) never gets anything above R1.",
        _lowest,
        ALL,
    ),
    Rule(
        "OWN-LEVEL",
        "A customer buys up to their own risk level; above it only if they insist, are not in the "
        "lowest category and acknowledged a specific written warning.",
        _own_level,
        ALL,
    ),
    Rule(
        "ELDERLY-VULNERABLE",
        "Customers aged 65 or over, or vulnerable, get a cooling-off period and an extra "
        "follow-up task on products above R3.",
        _elderly,
    ),
    Rule("HORIZON", "The product's horizon fits within the customer's stated horizon.", _horizon),
    Rule("LIQUIDITY", "The money comes back in time for the customer's liquidity need.", _liquidity),
    Rule(
        "CONCENTRATION",
        "Holdings at one risk level stay within that level's share of the customer's assets.",
        _concentration,
        ALL,
    ),
    Rule("MIN-AMOUNT", "A sale reaches the product's minimum amount.", _minimum, frozenset({"sale"})),
    Rule(
        "AFFORDABLE",
        "A product is recommended only if its minimum amount is within the customer's assets.",
        _affordable,
        frozenset({"recommendation"}),
    ),
)
RULES_BY_ID = {rule.id: rule for rule in RULES}


@dataclass(frozen=True)
class Verdict:
    result: Result
    findings: tuple[Finding, ...]
    cooling_off_hours: int = 0
    follow_up_days: int | None = None
    # Blocked only by the customer's own level, and allowed to insist (not the lowest category).
    overridable: bool = False

    @property
    def rule_ids(self) -> list[str]:
        return [f.rule_id for f in self.findings]

    @property
    def overridden(self) -> bool:
        return any(f.overridden for f in self.findings)

    def as_dict(self) -> dict:
        return {
            "result": self.result,
            "findings": [asdict(f) for f in self.findings],
            "cooling_off_hours": self.cooling_off_hours,
            "follow_up_days": self.follow_up_days,
            "overridable": self.overridable,
        }


def evaluate(proposal: Proposal, limits: Limits, rules: Iterable[Rule] = RULES) -> Verdict:
    findings = tuple(
        finding
        for rule in rules
        if proposal.purpose in rule.purposes and (finding := rule.check(proposal, limits)) is not None
    )
    blocks = [f for f in findings if f.effect == "block"]
    result: Result = "block" if blocks else "warn" if findings else "pass"
    elderly = any(f.rule_id == "ELDERLY-VULNERABLE" for f in findings)
    return Verdict(
        result=result,
        findings=findings,
        cooling_off_hours=limits.cooling_off_hours if elderly else 0,
        follow_up_days=limits.follow_up_days if elderly else None,
        overridable=bool(blocks)
        and all(f.rule_id == "OWN-LEVEL" for f in blocks)
        and not proposal.customer.lowest_category
        and proposal.purpose == "sale",
    )
