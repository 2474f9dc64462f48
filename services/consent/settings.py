from pydantic_settings import SettingsConfigDict

from services.kit.settings import ComponentSettings


class ConsentSettings(ComponentSettings):
    model_config = SettingsConfigDict(env_prefix="CONSENT_", extra="ignore")
