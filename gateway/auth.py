"""Bearer-token authentication: who is calling and in which role."""

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from gateway.settings import GatewaySettings
from services.kit.problems import Unauthorized

DEV_ISSUER = "crm-local-dev"


@dataclass(frozen=True)
class Caller:
    subject: str
    role: str


def ensure_dev_keypair(private_key_file: Path, public_key_file: Path) -> None:
    """Create a local ES256 key pair once (development only; never committed: .dev/ is ignored)."""
    if private_key_file.exists() and public_key_file.exists():
        return
    private_key_file.parent.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    private_key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    private_key_file.chmod(0o600)
    public_key_file.write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


def sign_token(private_key_file: Path, *, role: str, subject: str, ttl_seconds: int = 3600) -> str:
    issued = int(time.time())
    claims = {"sub": subject, "role": role, "iss": DEV_ISSUER, "iat": issued, "exp": issued + ttl_seconds}
    return jwt.encode(claims, private_key_file.read_bytes(), algorithm="ES256")


def issue_dev_token(*, role: str, subject: str | None, ttl_seconds: int) -> str:
    settings = GatewaySettings()
    ensure_dev_keypair(settings.jwt_private_key_file, settings.jwt_public_key_file)
    return sign_token(settings.jwt_private_key_file, role=role, subject=subject or f"dev-{role}", ttl_seconds=ttl_seconds)


class TokenVerifier:
    def __init__(self, settings: GatewaySettings):
        self.settings = settings
        if settings.jwks_url:
            self._jwks = jwt.PyJWKClient(settings.jwks_url, cache_keys=True, lifespan=300)
            self._public_key = None
        else:
            if settings.environment == "development":
                ensure_dev_keypair(settings.jwt_private_key_file, settings.jwt_public_key_file)
            self._jwks = None
            self._public_key = settings.jwt_public_key_file.read_bytes()

    async def _key_for(self, token: str):
        if self._jwks is None:
            return self._public_key
        # PyJWKClient fetches over blocking I/O on a cache miss; keep it off the event loop.
        return (await asyncio.to_thread(self._jwks.get_signing_key_from_jwt, token)).key

    async def verify(self, authorization: str | None) -> Caller:
        if not authorization or not authorization.lower().startswith("bearer "):
            raise Unauthorized("Send an Authorization header with a bearer token.")
        token = authorization[7:].strip()
        try:
            claims = jwt.decode(
                token,
                await self._key_for(token),
                algorithms=self.settings.jwt_algorithms,
                issuer=self.settings.jwt_issuer,
                audience=self.settings.jwt_audience,
                options={"require": ["exp", "sub"], "verify_aud": self.settings.jwt_audience is not None},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized("The token has expired; sign in again.") from None
        except (jwt.InvalidTokenError, jwt.PyJWKClientError):
            raise Unauthorized("The token is not valid for this service.") from None
        role = claims.get(self.settings.role_claim)
        if not isinstance(role, str) or not role:
            raise Unauthorized(f"The token carries no '{self.settings.role_claim}' claim.")
        return Caller(subject=str(claims["sub"]), role=role)
