"""Customer classification (R1.1, R4.1): tier from assets and holdings, lifecycle stages, and
the service plan each tier receives. Thresholds are configuration (ProfileSettings)."""

from decimal import Decimal
from enum import StrEnum


class Tier(StrEnum):
    HIGH_NET_WORTH = "high_net_worth"
    AFFLUENT = "affluent"
    MASS = "mass"
    POTENTIAL = "potential"


class Stage(StrEnum):
    PROSPECT = "prospect"
    ONBOARDING = "onboarding"
    ACTIVE = "active"
    DORMANT = "dormant"
    CHURNED = "churned"


# Lifecycle moves a person can make; anything else is refused with the allowed list.
TRANSITIONS: dict[Stage, set[Stage]] = {
    Stage.PROSPECT: {Stage.ONBOARDING, Stage.CHURNED},
    Stage.ONBOARDING: {Stage.ACTIVE, Stage.CHURNED},
    Stage.ACTIVE: {Stage.DORMANT, Stage.CHURNED},
    Stage.DORMANT: {Stage.ACTIVE, Stage.CHURNED},
    Stage.CHURNED: {Stage.ONBOARDING},  # a returning customer is onboarded again
}

# The maintenance strategy of each tier (handbook chapter 4).
SERVICE_PLANS: dict[Tier, dict] = {
    Tier.HIGH_NET_WORTH: {
        "plan": "private_banking",
        "dedicated_advisor": True,
        "review_every_months": 3,
        "channels": ["advisor", "priority_line", "branch_vip"],
    },
    Tier.AFFLUENT: {
        "plan": "wealth_management",
        "dedicated_advisor": False,
        "review_every_months": 6,
        "channels": ["regular_visit", "phone", "mobile"],
    },
    Tier.MASS: {"plan": "standard", "dedicated_advisor": False, "review_every_months": 12, "channels": ["mobile", "branch"]},
    Tier.POTENTIAL: {"plan": "growth", "dedicated_advisor": False, "review_every_months": 12, "channels": ["mobile", "campaigns"]},
}


def tier_for(assets: Decimal, holdings: int, *, hnw_assets: Decimal, affluent_assets: Decimal, mass_assets: Decimal) -> Tier:
    if assets >= hnw_assets:
        return Tier.HIGH_NET_WORTH
    if assets >= affluent_assets:
        return Tier.AFFLUENT
    if assets >= mass_assets or holdings > 0:
        return Tier.MASS
    return Tier.POTENTIAL
