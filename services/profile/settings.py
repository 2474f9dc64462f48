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

        return TierPolicy(
            hnw_assets=self.tier_high_net_worth_assets,
            affluent_assets=self.tier_affluent_assets,
            mass_assets=self.tier_mass_assets,
            uplift_holdings=self.tier_uplift_holdings,
            activity_window_days=self.activity_window_days,
        )

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

    # Screening (services/profile/screening): scores at or above `match` are strong hits, at or
    # above `review` weaker ones; both raise an alert. Roles with compliance rights decide alerts
    # and see which list entry blocks a customer.
    screening_match_threshold: float = 0.92
    screening_review_threshold: float = 0.80
    compliance_roles: list[str] = ["compliance_officer"]
    # Customers re-screened per transaction when a new list version arrives; seconds between runs.
    screening_batch_size: int = 200
    screening_job_seconds: float = 5.0

    # Money-laundering risk (R5.2): points per factor; the sum sets the rating. A PEP is always
    # rated high. High means enhanced due diligence. Codes, not values, are what ratings record.
    aml_factor_points: dict[str, int] = {
        "pep": 4,
        "high_risk_country": 4,
        "monitored_country": 2,
        "high_risk_occupation": 2,
        "remote_onboarding": 1,
        "cash_intensity_medium": 1,
        "cash_intensity_high": 3,
        "private_banking": 1,
        "many_products": 1,
    }
    aml_medium_from: int = 2
    aml_high_from: int = 4
    # FATF "call for action" and "increased monitoring" jurisdictions (ISO alpha-2), as configured.
    aml_high_risk_countries: list[str] = ["KP", "IR", "MM"]
    aml_monitored_countries: list[str] = ["SY", "YE", "HT", "SS", "VE", "LB", "NG", "ZA", "VN"]
    aml_high_risk_occupations: list[str] = [
        "money_services",
        "casino",
        "precious_metals",
        "arms_trade",
        "real_estate_agent",
        "politician",
        "crypto_exchange",
    ]
    aml_remote_channels: list[str] = ["online", "partner"]
    aml_many_products: int = 5
    # Months until the next periodic review, per rating.
    aml_review_months: dict[str, int] = {"low": 36, "medium": 24, "high": 12}
