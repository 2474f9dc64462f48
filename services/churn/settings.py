from pathlib import Path

from pydantic import model_validator
from pydantic_settings import SettingsConfigDict

from events.contracts import Channel, Survey
from events.contracts.terms import ChurnBand, Tier
from services.kit.settings import DEV_DIR, ComponentSettings


class ChurnSettings(ComponentSettings):
    model_config = SettingsConfigDict(env_prefix="CHURN_", extra="ignore")

    # Model versions (files and metadata) and the promotion log; `crm churn train` writes here and
    # every replica reads the promoted model from here (a shared volume in production).
    # Empty means .dev/models in development.
    model_dir: str = ""
    # Bands by churn probability: high from `band_high`, medium from `band_medium`, else low.
    band_medium: float = 0.4
    band_high: float = 0.7
    # Playbooks: the share of customers held out (no intervention), stable per customer.
    holdout_fraction: float = 0.1
    holdout_salt: str = "churn-holdout-1"
    high_call_within_hours: int = 24
    medium_callback_within_hours: int = 72
    # The medium band's satisfaction survey, sent through the feedback service (an invitation
    # the bank's messaging system delivers), and where the customer is to answer it.
    medium_survey: Survey = "nps"
    medium_survey_channel: Channel = "mobile"
    # Loyalty points earned: per 100 of card and account spending (debits), times the tier's
    # multiplier; per survey answered; by a retention offer the customer accepts.
    points_per_100_spent: int = 1
    points_tier_multiplier: dict[Tier, int] = {
        Tier.HIGH_NET_WORTH: 3,
        Tier.AFFLUENT: 2,
        Tier.MASS: 1,
        Tier.POTENTIAL: 1,
    }
    points_per_survey: int = 20
    points_retention_offer: int = 500
    points_expire_after_days: int = 365
    # Lifetime value: yearly margin as a share of assets, discount rate, horizon in years.
    ltv_margin_rate: float = 0.01
    ltv_discount_rate: float = 0.08
    ltv_horizon_years: int = 10

    @model_validator(mode="after")
    def _default_model_dir(self):
        if not self.model_dir and self.environment == "development":
            self.model_dir = str(DEV_DIR / "models")
        if not 0 < self.band_medium < self.band_high < 1:
            raise ValueError("CHURN_BAND_MEDIUM and CHURN_BAND_HIGH must satisfy 0 < medium < high < 1")
        if not 0 <= self.holdout_fraction < 1:
            raise ValueError("CHURN_HOLDOUT_FRACTION must be in [0, 1)")
        return self

    @property
    def models_path(self) -> Path:
        """Checked when used (serving, training), not by commands that never read models (migrate)."""
        if not self.model_dir:
            raise ValueError("CHURN_MODEL_DIR must be set outside development")
        return Path(self.model_dir)

    def band(self, probability: float) -> ChurnBand:
        if probability >= self.band_high:
            return ChurnBand.HIGH
        if probability >= self.band_medium:
            return ChurnBand.MEDIUM
        return ChurnBand.LOW
