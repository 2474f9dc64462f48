from pydantic_settings import SettingsConfigDict

from services.kit.settings import ComponentSettings


class FeedbackSettings(ComponentSettings):
    model_config = SettingsConfigDict(env_prefix="FEEDBACK_", extra="ignore")
