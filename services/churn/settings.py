from pydantic_settings import SettingsConfigDict

from services.kit.settings import ComponentSettings


class ChurnSettings(ComponentSettings):
    model_config = SettingsConfigDict(env_prefix="CHURN_", extra="ignore")
