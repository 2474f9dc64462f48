from pathlib import Path
from typing import Literal

from pydantic import model_validator
from pydantic_settings import SettingsConfigDict

from services.kit.settings import DEV_DIR, ComponentSettings, secret_or_development


class GatewaySettings(ComponentSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore")

    profile_url: str = "http://127.0.0.1:8001"
    consent_url: str = "http://127.0.0.1:8002"
    recommendation_url: str = "http://127.0.0.1:8003"
    churn_url: str = "http://127.0.0.1:8004"
    feedback_url: str = "http://127.0.0.1:8005"

    # Tokens: verified against the bank's identity provider (JWKS) in production, or against a
    # local public key in development, where `crm token` signs with the matching private key.
    jwks_url: str | None = None
    jwt_public_key_file: Path = DEV_DIR / "jwt-public.pem"
    jwt_private_key_file: Path = DEV_DIR / "jwt-private.pem"
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    jwt_algorithms: list[str] = ["ES256", "RS256"]
    role_claim: str = "role"

    policy_file: Path = Path(__file__).parent / "policy.yaml"

    # Key of the per-recipient pseudonyms that replace customer ids in data shared with partners
    # (HMAC-SHA256, base64, at least 256 bits); from a KMS-backed secret in production.
    pseudonym_key: str = ""

    # aiohttp is the default by measurement (README, `make bench`); httpx stays for comparison.
    upstream_transport: Literal["aiohttp", "httpx"] = "aiohttp"
    upstream_pool_size: int = 100
    upstream_timeout_seconds: float = 10.0

    def upstream_url(self, service: str) -> str:
        return getattr(self, f"{service}_url").rstrip("/")

    @model_validator(mode="after")
    def _production_needs_identity_provider(self):
        if self.environment == "production" and not self.jwks_url:
            raise ValueError("GATEWAY_JWKS_URL must be set in production (local signing keys are for development)")
        self.pseudonym_key = secret_or_development(
            self.pseudonym_key, setting="GATEWAY_PSEUDONYM_KEY", environment=self.environment, dev_name="gateway-pseudonym"
        )
        return self
