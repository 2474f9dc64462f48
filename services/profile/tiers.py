"""Customer classification (R1.1, R4.1): tier from assets, product holdings and activity,
lifecycle stages, and the service plan each tier receives. Thresholds are configuration
(ProfileSettings); the `retier` job moves every customer whose tier no longer matches them.

The rule, in Python (`tier_for`, for one customer as it changes) and in SQL (`tier_sql`, for the
job to find every customer whose stored tier disagrees), kept equal by a test:
- assets at or above the high-net-worth, affluent or mass threshold give that tier;
- below the mass threshold, holding any product still makes a customer `mass`;
- an engaged customer (at least `uplift_holdings` products and activity within the activity
  window) is lifted one tier, up to affluent: high-net-worth stays a matter of assets alone.
"""

import calendar
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa

from events.contracts.terms import Stage, Tier

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
    Tier.MASS: {
        "plan": "standard",
        "dedicated_advisor": False,
        "review_every_months": 12,
        "channels": ["mobile", "branch"],
    },
    Tier.POTENTIAL: {
        "plan": "growth",
        "dedicated_advisor": False,
        "review_every_months": 12,
        "channels": ["mobile", "campaigns"],
    },
}


@dataclass(frozen=True)
class TierPolicy:
    hnw_assets: Decimal
    affluent_assets: Decimal
    mass_assets: Decimal
    uplift_holdings: int
    activity_window_days: int

    def active_since(self, moment: datetime) -> datetime:
        return moment - timedelta(days=self.activity_window_days)


UPLIFT = {Tier.POTENTIAL: Tier.MASS, Tier.MASS: Tier.AFFLUENT}


def tier_for(
    assets: Decimal, holdings: int, last_activity_at: datetime | None, *, policy: TierPolicy, moment: datetime
) -> Tier:
    if assets >= policy.hnw_assets:
        tier = Tier.HIGH_NET_WORTH
    elif assets >= policy.affluent_assets:
        tier = Tier.AFFLUENT
    elif assets >= policy.mass_assets or holdings > 0:
        tier = Tier.MASS
    else:
        tier = Tier.POTENTIAL
    engaged = (
        holdings >= policy.uplift_holdings
        and last_activity_at is not None
        and last_activity_at >= policy.active_since(moment)
    )
    return UPLIFT.get(tier, tier) if engaged else tier


def tier_sql(assets, holdings, last_activity_at, *, policy: TierPolicy, moment: datetime) -> sa.ColumnElement[str]:
    """`tier_for` as a SQL expression over a customer's columns."""
    by_assets = sa.case(
        (assets >= policy.hnw_assets, Tier.HIGH_NET_WORTH.value),
        (assets >= policy.affluent_assets, Tier.AFFLUENT.value),
        (sa.or_(assets >= policy.mass_assets, holdings > 0), Tier.MASS.value),
        else_=Tier.POTENTIAL.value,
    )
    engaged = sa.and_(
        holdings >= policy.uplift_holdings,
        last_activity_at.is_not(None),
        last_activity_at >= policy.active_since(moment),
    )
    return sa.case(
        (sa.and_(engaged, by_assets == Tier.POTENTIAL.value), Tier.MASS.value),
        (sa.and_(engaged, by_assets == Tier.MASS.value), Tier.AFFLUENT.value),
        else_=by_assets,
    )


def add_months(day: date, months: int) -> date:
    """The same day `months` later (the month's last day where it is shorter)."""
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))
