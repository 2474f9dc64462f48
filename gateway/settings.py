from pathlib import Path
from typing import Literal

from pydantic import BaseModel, model_validator
from pydantic_settings import SettingsConfigDict

from services.kit.settings import DEV_DIR, ComponentSettings, secret_or_development

# Issuer and audience of the tokens `crm token` signs with the local development key.
DEV_ISSUER = "crm-local-dev"
DEV_AUDIENCE = "bank-crm"


class KpiTarget(BaseModel):
    """The bank's target for one KPI (R7.3: the "check" of plan-do-check-act)."""

    value: float
    better: Literal["higher", "lower"]


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
    # Required outside development; in development, those of `crm token`.
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    jwt_algorithms: list[str] = ["ES256", "RS256"]
    role_claim: str = "role"
    # Tokens whose `exp` lies further ahead than this are refused; clock skew allowed.
    jwt_max_lifetime_seconds: int = 12 * 3600
    jwt_leeway_seconds: int = 30
    max_token_bytes: int = 4096
    # Verified tokens remembered (until they expire, at most a minute), at most this many.
    token_cache_size: int = 10_000

    # Limits (the production ingress carries the same: deploy/overlays/production/ingress.yaml).
    # Requests per caller (token subject and role; before authentication, per client address),
    # in the `limits` notation: several windows separated by ';'.
    rate_limits: str = "100/second;3000/minute"
    max_body_bytes: int = 1_048_576  # routes may allow more (policy.yaml: max_body_bytes)
    max_header_bytes: int = 16_384  # all request headers together
    max_json_depth: int = 32
    body_timeout_seconds: float = 30.0  # a client sending its body slower than this is cut off
    # Security headers of every answer (HSTS only matters behind TLS, i.e. the ingress).
    hsts_max_age_seconds: int = 31_536_000
    # Serve the interactive API viewer (/docs); the document itself always needs a token.
    docs_enabled: bool = True

    # Key of the per-recipient pseudonyms that replace customer ids in data shared with partners
    # (HMAC-SHA256, base64, at least 256 bits); from a KMS-backed secret in production.
    pseudonym_key: str = ""

    # How the gateway calls the services (gateway/upstream.py): kept-alive HTTP/1.1 connections
    # parsed by httptools, the default by measurement (README, `make bench`); aiohttp's pooled
    # session stays for comparison, and as a fallback.
    upstream_transport: Literal["http11", "aiohttp"] = "http11"
    upstream_pool_size: int = 100
    upstream_timeout_seconds: float = 10.0
    # The dashboard's targets, per KPI area and KPI name (JSON, e.g.
    # {"service": {"nps": {"value": 30, "better": "higher"}}}): each card shows its target and
    # whether the figure meets it. The bank's own; none by default.
    kpi_targets: dict[str, dict[str, KpiTarget]] = {}

    def upstream_url(self, service: str) -> str:
        return getattr(self, f"{service}_url").rstrip("/")

    @model_validator(mode="after")
    def _production_needs_identity_provider(self):
        if self.environment != "development":
            missing = [name for name in ("jwks_url", "jwt_issuer", "jwt_audience") if not getattr(self, name)]
            if missing:
                raise ValueError(
                    f"{', '.join('GATEWAY_' + m.upper() for m in missing)} must be set outside development "
                    "(local signing keys are for development)"
                )
        else:
            self.jwt_issuer = self.jwt_issuer or DEV_ISSUER
            self.jwt_audience = self.jwt_audience or DEV_AUDIENCE
        self.pseudonym_key = secret_or_development(
            self.pseudonym_key,
            setting="GATEWAY_PSEUDONYM_KEY",
            environment=self.environment,
            dev_name="gateway-pseudonym",
        )
        return self
