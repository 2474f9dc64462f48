"""Ranking among suitable products, each pick with its reasons, each exclusion with its rules.

Pure: the hard rules (`services.recommendation.rules`) decide what may be recommended; this
module only orders what passed, by fit with the customer's goals, horizon and amount and by
what similar customers hold (shares learned from holdings, see `popularity`).
"""

from dataclasses import dataclass
from decimal import Decimal

from services.recommendation.rules import (
    CustomerFacts,
    HoldingFacts,
    Limits,
    ProductFacts,
    Proposal,
    evaluate,
)

# Which product types serve which stated goal.
GOAL_TYPES = {
    "preservation": {"deposit"},
    "income": {"deposit", "insurance", "wealth_management"},
    "protection": {"insurance"},
    "growth": {"fund", "wealth_management"},
}
WEIGHTS = {"goal": 0.4, "horizon": 0.2, "amount": 0.15, "similar": 0.25}
ALREADY_HELD_PENALTY = 0.5


@dataclass(frozen=True)
class Pick:
    rank: int
    product_code: str
    score: float
    reasons: tuple[str, ...]
    warnings: tuple[str, ...] = ()  # warn findings (e.g. cooling-off for elderly customers)

    def as_dict(self) -> dict:
        return {
            "rank": self.rank,
            "product_code": self.product_code,
            "score": self.score,
            "reasons": list(self.reasons),
            "warnings": list(self.warnings),
        }


@dataclass(frozen=True)
class Exclusion:
    """A product left out, with the ids of the rules that block it (their sentences: RULES_BY_ID;
    the specifics: replay the list, or check the product for the customer)."""

    product_code: str
    rule_ids: tuple[str, ...]

    def as_dict(self) -> dict:
        return {"product_code": self.product_code, "rule_ids": list(self.rule_ids)}


def asset_band(assets: Decimal) -> str:
    for limit, band in ((Decimal(100_000), "lt_100k"), (Decimal(1_000_000), "lt_1m"), (Decimal(10_000_000), "lt_10m")):
        if assets < limit:
            return band
    return "ge_10m"


def segment(risk_level: int | None, age_band: str | None, assets: Decimal) -> str:
    """Who counts as 'similar': same risk level, age band and asset band."""
    return f"{'C' + str(risk_level) if risk_level else 'none'}|{age_band or 'unknown'}|{asset_band(assets)}"


def _fit(customer: CustomerFacts, product: ProductFacts, similar_share: float, held: bool) -> tuple[float, list[str]]:
    reasons: list[str] = []
    goal_hits = [g for g in customer.goals if product.product_type in GOAL_TYPES.get(g, ())]
    goal = 1.0 if goal_hits else 0.0
    if goal_hits:
        reasons.append(f"GOAL: a {product.product_type} serves the stated goal '{goal_hits[0]}'")
    if customer.horizon_years:
        horizon = 1.0 - min(abs(customer.horizon_years - product.horizon_years) / max(customer.horizon_years, 1), 1.0)
        if horizon >= 0.5:
            reasons.append(f"HORIZON: {product.horizon_years} years against a horizon of {customer.horizon_years}")
    else:
        horizon = 1.0 if product.horizon_years == 0 else 0.0
    if customer.assets > 0:
        share = float(product.min_amount / customer.assets)
        amount = 1.0 if share <= 0.2 else max(0.0, 1.0 - (share - 0.2) / 0.8)
        if share <= 0.2:
            reasons.append("AMOUNT: the minimum is a small part of the customer's assets")
    else:
        amount = 1.0 if product.min_amount == 0 else 0.0
    if similar_share > 0:
        reasons.append(f"SIMILAR: held by {similar_share:.0%} of similar customers")
    score = (
        WEIGHTS["goal"] * goal
        + WEIGHTS["horizon"] * horizon
        + WEIGHTS["amount"] * amount
        + WEIGHTS["similar"] * similar_share
    )
    if held:
        score -= ALREADY_HELD_PENALTY
        reasons.append("HELD: the customer already holds it (ranked lower)")
    return round(score, 6), reasons


def rank(
    customer: CustomerFacts,
    products: list[ProductFacts],
    holdings: tuple[HoldingFacts, ...],
    similar: dict[str, float],
    limits: Limits,
    *,
    limit: int = 10,
) -> tuple[list[Pick], list[Exclusion]]:
    """Apply every hard rule to every product, then order the suitable ones; deterministic."""
    held = {h.product_code for h in holdings}
    scored: list[tuple[float, str, list[str], list[str]]] = []
    exclusions: list[Exclusion] = []
    for product in products:
        verdict = evaluate(Proposal(customer, product, product.min_amount, holdings, purpose="recommendation"), limits)
        if verdict.result == "block":
            exclusions.append(
                Exclusion(product.code, tuple(f.rule_id for f in verdict.findings if f.effect == "block"))
            )
            continue
        score, reasons = _fit(customer, product, similar.get(product.code, 0.0), product.code in held)
        scored.append((score, product.code, reasons, [f.reason for f in verdict.findings]))
    scored.sort(key=lambda item: (-item[0], item[1]))
    picks = [
        Pick(
            rank=i,
            product_code=code,
            score=score,
            reasons=tuple(reasons) or ("SUITABLE: passes every hard rule",),
            warnings=tuple(warnings),
        )
        for i, (score, code, reasons, warnings) in enumerate(scored[:limit], start=1)
    ]
    exclusions.sort(key=lambda e: e.product_code)
    return picks, exclusions
