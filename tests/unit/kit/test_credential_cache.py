"""Caller credentials: a verified one is remembered until it expires, in a bounded cache keyed by
the key and the exact token; signing reuses the token of the same second."""

import time

import jwt
import pytest

from services.kit import identity
from services.kit.identity import sign_credential, verify_credential
from services.kit.problems import Unauthorized

KEY = "k" * 44
OTHER_KEY = "o" * 44


@pytest.fixture(autouse=True)
def fresh_caches(monkeypatch):
    identity._verified.clear()
    identity._signed.cache_clear()
    decodes = []
    real_decode = jwt.decode

    def counting_decode(*args, **kwargs):
        if len(args) > 1:  # a signature check (the tests' own reads of claims pass no key)
            decodes.append(args[0])
        return real_decode(*args, **kwargs)

    monkeypatch.setattr(identity.jwt, "decode", counting_decode)
    yield decodes
    identity._verified.clear()
    identity._signed.cache_clear()


def test_a_repeated_credential_is_checked_once(fresh_caches):
    token = sign_credential(KEY, "service_agent", "agent-1", reason="call")
    first = verify_credential(KEY, token)
    second = verify_credential(KEY, token)
    assert (second.id, second.role, second.reason) == ("agent-1", "service_agent", "call")
    assert second is first
    assert fresh_caches == [token]


def test_a_cached_credential_is_refused_once_it_expires(fresh_caches):
    # `iat` is the whole second of signing: two seconds leave at least one to verify it in.
    token = sign_credential(KEY, "admin", "a-1", ttl_seconds=2)
    verify_credential(KEY, token)
    expires = jwt.decode(token, options={"verify_signature": False})["exp"]
    time.sleep(max(0.0, expires - time.time()) + 0.05)
    with pytest.raises(Unauthorized):
        verify_credential(KEY, token)
    assert fresh_caches == [token, token]  # checked again, not taken from the cache


def test_a_credential_verified_under_one_key_is_refused_under_the_next(fresh_caches):
    old = sign_credential(KEY, "admin", "a-1")
    verify_credential(KEY, old)
    with pytest.raises(Unauthorized):
        verify_credential(OTHER_KEY, old)
    new = sign_credential(OTHER_KEY, "admin", "a-1")
    assert new != old
    assert verify_credential(OTHER_KEY, new).id == "a-1"


def test_invalid_credentials_are_not_remembered(fresh_caches):
    forged = sign_credential(OTHER_KEY, "admin", "a-1")
    for _ in range(2):
        with pytest.raises(Unauthorized):
            verify_credential(KEY, forged)
    assert len(identity._verified) == 0
    assert fresh_caches == [forged, forged]


def test_the_cache_is_bounded(fresh_caches, monkeypatch):
    small = identity._verified_cache(3)
    monkeypatch.setattr(identity, "_verified", small)
    tokens = [sign_credential(KEY, "admin", f"a-{i}") for i in range(5)]
    for token in tokens:
        verify_credential(KEY, token)
    assert len(small) == 3
    verify_credential(KEY, tokens[0])  # the least recently used went first: checked again
    assert fresh_caches == [*tokens, tokens[0]]


def test_signing_reuses_the_token_of_the_same_second_only_for_the_same_claims():
    issued = int(time.time())
    token = sign_credential(KEY, "customer", "c-1", customer_scope="c-1")
    if int(time.time()) == issued:  # the same second: the same token
        assert sign_credential(KEY, "customer", "c-1", customer_scope="c-1") == token
    assert sign_credential(KEY, "customer", "c-1", customer_scope="c-1", reason="why") != token
    assert sign_credential(KEY, "customer", "c-2", customer_scope="c-2") != token
    assert sign_credential(OTHER_KEY, "customer", "c-1", customer_scope="c-1") != token
    claims = jwt.decode(token, KEY, algorithms=["HS256"], audience=identity.AUDIENCE)
    assert claims["exp"] - claims["iat"] == identity.TTL_SECONDS
