from pydantic_settings import SettingsConfigDict

from services.kit.settings import EncryptionSettings


class FeedbackSettings(EncryptionSettings):
    """Free-text comments and complaint descriptions are encrypted at rest (they may name people)."""

    model_config = SettingsConfigDict(env_prefix="FEEDBACK_", extra="ignore")
