from pydantic_settings import SettingsConfigDict

from services.kit.settings import ComponentSettings


class ProfileSettings(ComponentSettings):
    model_config = SettingsConfigDict(env_prefix="PROFILE_", extra="ignore")
