"""Bearer-token authentication: who is calling and in which role."""

import asyncio
import hashlib
import time
from dataclasses import dataclass
from pathlib import Path

import jwt
from cachetools import TLRUCache
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from gateway.settings import DEV_AUDIENCE, DEV_ISSUER, GatewaySettings
from services.kit.problems import Unauthorized
from services.kit.settings import create_once


@dataclass(frozen=True)
class Caller:
    subject: str
    role: str


def ensure_dev_keypair(private_key_file: Path, public_key_file: Path) -> None:
    """Create a local ES256 key pair once (development only; never committed: .dev/ is ignored).
    The public half is derived from whichever private key landed first, so the pair always matches."""
    if private_key_file.exists() and public_key_file.exists():
        return
    generated = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    key = serialization.load_pem_private_key(create_once(private_key_file, generated), password=None)
    create_once(
        public_key_file,
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo),
    )


def sign_token(private_key_file: Path, *, role: str, subject: str, ttl_seconds: int = 3600, **claims_over) -> str:
    issued = int(time.time())
    claims = {
        "sub": subject,
        "role": role,
        "iss": DEV_ISSUER,
        "aud": DEV_AUDIENCE,
        "iat": issued,
        "exp": issued + ttl_seconds,
        **claims_over,
    }
    return jwt.encode(
        {k: v for k, v in claims.items() if v is not None}, private_key_file.read_bytes(), algorithm="ES256"
    )


def issue_dev_token(*, role: str, subject: str | None, ttl_seconds: int) -> str:
    settings = GatewaySettings()
    ensure_dev_keypair(settings.jwt_private_key_file, settings.jwt_public_key_file)
    return sign_token(
        settings.jwt_private_key_file, role=role, subject=subject or f"dev-{role}", ttl_seconds=ttl_seconds
    )


INVALID = "The token is not valid for this service."


class TokenVerifier:
    """Verifies bearer tokens: signature, issuer, audience, a bounded integer `exp`, a non-empty
    subject and a role. Verified tokens are remembered until they expire (at most
    CACHE_SECONDS, so a signing key withdrawn from the JWKS stops being honoured soon after),
    in a bounded cache: a repeated token costs a dictionary look-up, not a signature check."""

    CACHE_SECONDS = 60.0

    def __init__(self, settings: GatewaySettings):
        self.settings = settings
        self._jwks: jwt.PyJWKClient | None
        self._public_key: bytes | None
        if settings.jwks_url:
            self._jwks = jwt.PyJWKClient(settings.jwks_url, cache_keys=True, lifespan=300)
            self._public_key = None
        else:
            if settings.environment == "development":
                ensure_dev_keypair(settings.jwt_private_key_file, settings.jwt_public_key_file)
            self._jwks = None
            self._public_key = settings.jwt_public_key_file.read_bytes()
        # token digest -> (when to forget it, caller); the least recently used goes first when full.
        self._verified: TLRUCache[bytes, tuple[float, Caller]] = TLRUCache(
            settings.token_cache_size, ttu=lambda _key, value, _now: value[0], timer=time.time
        )

    async def _key_for(self, token: str):
        if self._jwks is None:
            return self._public_key
        # PyJWKClient fetches over blocking I/O on a cache miss; keep it off the event loop.
        return (await asyncio.to_thread(self._jwks.get_signing_key_from_jwt, token)).key

    async def verify(self, authorization: str | None) -> Caller:
        if not authorization or not authorization.lower().startswith("bearer "):
            raise Unauthorized("Send an Authorization header with a bearer token.")
        token = authorization[7:].strip()
        if len(token) > self.settings.max_token_bytes:
            raise Unauthorized(INVALID)
        key = hashlib.sha256(token.encode()).digest()
        try:
            return self._verified[key][1]
        except KeyError:  # not seen, or expired
            pass
        caller, expires_at = await self._verify(token)
        self._verified[key] = (min(expires_at, time.time() + self.CACHE_SECONDS), caller)
        return caller

    async def _verify(self, token: str) -> tuple[Caller, float]:
        settings = self.settings
        try:
            claims = jwt.decode(
                token,
                await self._key_for(token),
                algorithms=settings.jwt_algorithms,
                issuer=settings.jwt_issuer,
                audience=settings.jwt_audience,
                options={"require": ["exp", "sub", "iss", "aud"]},
                leeway=settings.jwt_leeway_seconds,
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized("The token has expired; sign in again.") from None
        except (jwt.InvalidTokenError, jwt.PyJWKClientError):
            raise Unauthorized(INVALID) from None
        now = time.time()
        times = [claims.get(name) for name in ("exp", "iat", "nbf") if name in claims]
        # Numeric dates only (RFC 7519), and a lifetime no longer than the bank allows.
        if any(not isinstance(value, int) or isinstance(value, bool) for value in times):
            raise Unauthorized(INVALID)
        if claims["exp"] > now + settings.jwt_max_lifetime_seconds:
            raise Unauthorized("The token lives longer than this service accepts; sign in again.")
        subject = claims["sub"]
        if not isinstance(subject, str) or not subject.strip():
            raise Unauthorized(INVALID)
        role = claims.get(settings.role_claim)
        if not isinstance(role, str) or not role:
            raise Unauthorized(f"The token carries no '{settings.role_claim}' claim.")
        return Caller(subject=subject, role=role), float(claims["exp"])
