"""Settings shared by every component; each component subclasses with its own env prefix."""

from pathlib import Path

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Local state for the embedded default (SQLite files, dev signing key) lives here, outside git.
DEV_DIR = Path(__file__).resolve().parents[2] / ".dev"


class ComponentSettings(BaseSettings):
    """Base for a component's settings. Subclasses set `env_prefix` (e.g. ``PROFILE_``)."""

    model_config = SettingsConfigDict(extra="ignore")

    # Empty means the embedded default: a SQLite file under .dev/ named after the component.
    database_url: str = ""
    # Shared by every component, hence no prefix.
    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:9092",
        validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS"),
    )
    environment: str = Field(default="development", validation_alias=AliasChoices("CRM_ENVIRONMENT"))
    log_level: str = "INFO"
    # How often the outbox relay looks for unsent events when nothing woke it (seconds).
    outbox_poll_interval: float = 0.2

    def component_name(self) -> str:
        return self.model_config.get("env_prefix", "").rstrip("_").lower()

    @model_validator(mode="after")
    def _default_database(self):
        if not self.database_url:
            if self.environment != "development":
                raise ValueError(f"{self.component_name().upper()}_DATABASE_URL must be set outside development")
            DEV_DIR.mkdir(exist_ok=True)
            self.database_url = f"sqlite+aiosqlite:///{DEV_DIR / (self.component_name() + '.db')}"
        return self

    @property
    def is_production(self) -> bool:
        return self.environment == "production"
