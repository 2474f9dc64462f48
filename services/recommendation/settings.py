from pydantic_settings import SettingsConfigDict

from services.kit.settings import ComponentSettings


class RecommendationSettings(ComponentSettings):
    model_config = SettingsConfigDict(env_prefix="RECOMMENDATION_", extra="ignore")
