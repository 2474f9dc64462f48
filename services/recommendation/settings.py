from decimal import Decimal

from pydantic_settings import SettingsConfigDict

from events.contracts.terms import ProductRiskLevel
from services.kit.settings import ComponentSettings
from services.recommendation.rules import Limits


class RecommendationSettings(ComponentSettings):
    model_config = SettingsConfigDict(env_prefix="RECOMMENDATION_", extra="ignore")

    # The questionnaire customers answer now (a data file in questionnaire/); older versions stay readable.
    questionnaire_version: str = "2026.1"
    # How long an assessment holds; empty means the questionnaire's own `validity_days`.
    assessment_validity_days: int | None = None
    # Days a customer has to be re-assessed once their age band or assets band changed.
    reassessment_due_days: int = 30
    cooling_off_hours: int = 24
    follow_up_days: int = 3
    # Largest share of a customer's assets held at each product risk level (JSON).
    concentration_limits: dict[ProductRiskLevel, Decimal] = {
        ProductRiskLevel.R1: Decimal(1),
        ProductRiskLevel.R2: Decimal(1),
        ProductRiskLevel.R3: Decimal("0.6"),
        ProductRiskLevel.R4: Decimal("0.4"),
        ProductRiskLevel.R5: Decimal("0.2"),
    }
    # How often the shares of similar customers holding each product are learned from holdings.
    popularity_refresh_seconds: float = 900

    def limits(self) -> Limits:
        return Limits(
            concentration={int(code[1]): share for code, share in self.concentration_limits.items()},
            cooling_off_hours=self.cooling_off_hours,
            follow_up_days=self.follow_up_days,
        )
