"""OWASP API2:2023 Broken Authentication: bearer tokens at the gateway, caller credentials at
the services (issue 7, items 5 and 10)."""

import time

import jwt
import pytest

from gateway.auth import TokenVerifier, ensure_dev_keypair, sign_token
from gateway.settings import GatewaySettings
from services.kit.identity import MAX_TTL_SECONDS, sign_credential, verify_credential
from services.kit.problems import Unauthorized


@pytest.fixture
def keys(tmp_path, monkeypatch):
    private, public = tmp_path / "private.pem", tmp_path / "public.pem"
    ensure_dev_keypair(private, public)
    monkeypatch.setenv("GATEWAY_JWT_PRIVATE_KEY_FILE", str(private))
    monkeypatch.setenv("GATEWAY_JWT_PUBLIC_KEY_FILE", str(public))
    monkeypatch.setenv("CRM_ENVIRONMENT", "development")
    return private


@pytest.fixture
def verifier(keys) -> TokenVerifier:
    return TokenVerifier(GatewaySettings())


async def verify(verifier: TokenVerifier, token: str):
    return await verifier.verify(f"Bearer {token}")


async def test_a_valid_token_names_its_caller(verifier, keys):
    caller = await verify(verifier, sign_token(keys, role="customer", subject="c-1"))
    assert (caller.role, caller.subject) == ("customer", "c-1")


@pytest.mark.parametrize(
    "claims",
    [
        {"iss": "someone-else"},
        {"aud": "another-api"},
        {"aud": None},  # no audience at all
        {"iss": None},
        {"exp": str(int(time.time()) + 600)},  # a numeric date as a string
        {"exp": 253402300799},  # year 9999
        {"sub": ""},
        {"sub": "   "},
        {"exp": None},
    ],
)
async def test_tokens_with_a_wrong_issuer_audience_expiry_or_subject_are_refused(verifier, keys, claims):
    token = sign_token(keys, role="relationship_manager", subject="rm-1", **claims)
    with pytest.raises(Unauthorized):
        await verify(verifier, token)


async def test_an_oversized_token_is_refused_before_it_is_decoded(verifier, keys):
    token = sign_token(keys, role="admin", subject="a-1", padding="x" * 100_000)
    with pytest.raises(Unauthorized):
        await verify(verifier, token)


async def test_a_verified_token_is_remembered_until_it_expires(verifier, keys):
    token = sign_token(keys, role="admin", subject="a-1")
    await verify(verifier, token)
    key, verifier._public_key = verifier._public_key, b"not a key any more"  # a second check would fail
    assert (await verify(verifier, token)).subject == "a-1"
    verifier._public_key = key
    expired = sign_token(keys, role="admin", subject="a-2", ttl_seconds=-120)
    with pytest.raises(Unauthorized):
        await verify(verifier, expired)


def test_outside_development_issuer_and_audience_are_required(monkeypatch):
    monkeypatch.setenv("CRM_ENVIRONMENT", "production")
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_SSL")  # production refuses a plaintext broker
    monkeypatch.setenv("GATEWAY_JWKS_URL", "https://idp.bank.example/jwks")
    monkeypatch.setenv("GATEWAY_DATABASE_URL", "postgresql+asyncpg://db/gateway")
    monkeypatch.setenv("GATEWAY_PSEUDONYM_KEY", "A" * 44)
    monkeypatch.setenv("CRM_SERVICE_IDENTITY_KEY", "B" * 44)
    with pytest.raises(ValueError, match="GATEWAY_JWT_ISSUER, GATEWAY_JWT_AUDIENCE"):
        GatewaySettings()
    monkeypatch.setenv("GATEWAY_JWT_ISSUER", "https://idp.bank.example")
    monkeypatch.setenv("GATEWAY_JWT_AUDIENCE", "bank-crm")
    assert GatewaySettings().jwt_audience == "bank-crm"


KEY = "k" * 44


def test_services_refuse_calls_without_a_credential():
    with pytest.raises(Unauthorized):
        verify_credential(KEY, None)


def test_services_refuse_a_credential_signed_with_another_key():
    with pytest.raises(Unauthorized):
        verify_credential(KEY, sign_credential("x" * 44, "admin", "a-1"))


def test_services_refuse_a_long_lived_or_anonymous_credential():
    with pytest.raises(Unauthorized):
        verify_credential(KEY, sign_credential(KEY, "admin", "a-1", ttl_seconds=MAX_TTL_SECONDS + 1))
    with pytest.raises(Unauthorized):
        verify_credential(KEY, sign_credential(KEY, "admin", ""))
    with pytest.raises(Unauthorized):
        verify_credential(KEY, sign_credential(KEY, "", "someone"))


def test_a_valid_credential_carries_role_subject_scope_and_reason():
    actor = verify_credential(KEY, sign_credential(KEY, "customer", "c-1", customer_scope="c-1", reason="why"))
    assert (actor.id, actor.role, actor.customer_scope, actor.reason) == ("c-1", "customer", "c-1", "why")


def test_forged_claims_do_not_verify():
    token = sign_credential(KEY, "customer", "c-1")
    header, payload, signature = token.split(".")
    forged = jwt.encode(
        {**jwt.decode(token, options={"verify_signature": False}), "role": "admin"}, "guess" * 9, algorithm="HS256"
    ).split(".")[1]
    with pytest.raises(Unauthorized):
        verify_credential(KEY, f"{header}.{forged}.{signature}")
