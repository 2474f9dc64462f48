from decimal import Decimal

from pydantic_settings import SettingsConfigDict

from services.kit.settings import EncryptionSettings


class ProfileSettings(EncryptionSettings):
    model_config = SettingsConfigDict(env_prefix="PROFILE_", extra="ignore")

    # Tier thresholds on assets under management, reporting currency (R1.1).
    tier_high_net_worth_assets: Decimal = Decimal("6000000")
    tier_affluent_assets: Decimal = Decimal("500000")
    tier_mass_assets: Decimal = Decimal("50000")
    # Engagement lifts a customer one tier (up to affluent): this many products and activity
    # within the activity window (tiers.py).
    tier_uplift_holdings: int = 5
    activity_window_days: int = 90
    # An active customer with no activity for this long becomes dormant (the `mark-dormant` job).
    dormant_after_days: int = 365
    # Private-banking advisors, one of whom is assigned to each high-net-worth customer (R4.1);
    # empty: high-net-worth customers keep their manager and the review tasks say so.
    private_banking_advisors: list[str] = []

    def tier_policy(self):
        from services.profile.tiers import TierPolicy

        return TierPolicy(hnw_assets=self.tier_high_net_worth_assets, affluent_assets=self.tier_affluent_assets,
                          mass_assets=self.tier_mass_assets, uplift_holdings=self.tier_uplift_holdings,
                          activity_window_days=self.activity_window_days)

    # Roles that see only the customers assigned to them (R4.1 relationship managers).
    assigned_only_roles: list[str] = ["relationship_manager"]
    # Roles acting for one customer (their id is the caller id): they see no other customer's figures.
    self_scoped_roles: list[str] = ["customer"]

    # Days before a document's expiry from which it counts as `expiring` and is announced (KYC).
    document_expiry_notice_days: int = 60

    # Retention per data category: PROFILE_RETENTION_DAYS (services/kit/retention.py); for basic
    # data the days count from the end of the relationship (retention.py).
    # Days a prospect who never became a customer is kept (then erased like a leaver).
    prospect_retention_days: int = 365
    # Reconciliation: each erasure is announced again every N days (below the 7-day topic
    # retention) for M days, so a consumer away up to M days still applies it when it returns.
    erasure_reannounce_every_days: float = 3
    erasure_reannounce_for_days: float = 90
    # Customers erased per transaction of the retention job.
    retention_batch_size: int = 200
