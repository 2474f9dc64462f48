"""Who calls a service: a short-lived credential the gateway signs, verified on every request.

Services trust no identity headers. The gateway (the only component holding the service
identity key besides the services that verify with it) signs, for every call it forwards, a JWT
(HS256, issuer `crm-gateway`, audience `crm-services`, one minute) naming the caller's role and
id, the customer a self-scoped caller may act for, the access reason and, where the gateway
masks the answer, the fields it masks for this caller. A service refuses any request without a
valid one (401): there is no anonymous or "internal" caller.
"""

import functools
import json
import os
import time
from collections.abc import Mapping, Sequence
from typing import Annotated, TypedDict, Unpack

import jwt
from cachetools import TLRUCache
from fastapi import Depends, Request

from services.kit.problems import NotFound, Unauthorized
from services.kit.settings import SERVICE_IDENTITY_KEY_SETTING, resolve_service_identity_key

CREDENTIAL_HEADER = "X-Caller-Credential"
ISSUER = "crm-gateway"
AUDIENCE = "crm-services"
TTL_SECONDS = 60
# A credential living longer than this is refused, whatever its `exp` says.
MAX_TTL_SECONDS = 300
# The role of the gateway's own calls (data catalogue, manager look-ups, consent decisions).
GATEWAY_ROLE = "gateway"
# Verified credentials remembered per process (see `verify_credential`); the least recently
# used goes first when full.
VERIFIED_CACHE_SIZE = 10_000


class Actor:
    """Who is acting, as the gateway vouches for it."""

    def __init__(
        self, actor_id: str, role: str, scope: str | None, reason: str | None, masked: frozenset[str] | None = None
    ):
        self.id = actor_id
        self.role = role
        # Set for self-scoped callers (customers): the only customer id they may act for.
        self.customer_scope = scope
        # Why the caller accesses customer data, where their role must say (X-Access-Reason).
        self.reason = reason
        # Set when the gateway masks this call's answer: the fields it masks for this caller
        # (empty: none), so that a service recording the access records what leaves in clear.
        self.masked = masked

    def released_in_clear(self, returned: Sequence[str]) -> list[str]:
        """Of the fields an answer carries, those the caller receives in clear."""
        return [name for name in returned if self.masked is None or name not in self.masked]

    def reaches(self, customer_id: str) -> bool:
        """Whether the caller may act for this customer as far as its scope goes: a self-scoped
        caller only for themselves (roles and portfolios are checked where they apply)."""
        return self.customer_scope is None or customer_id == self.customer_scope


def sign_credential(
    key: str,
    role: str,
    subject: str,
    *,
    customer_scope: str | None = None,
    reason: str | None = None,
    masked: tuple[str, ...] | None = None,
    ttl_seconds: int = TTL_SECONDS,
) -> str:
    return _signed(key, role, subject, customer_scope, reason, masked, ttl_seconds, int(time.time()))


# Signing is deterministic and `iat` counts whole seconds, so within one second a caller's
# credential is the same token every time: it is signed once and taken from here after.
@functools.lru_cache(maxsize=4096)
def _signed(
    key: str,
    role: str,
    subject: str,
    customer_scope: str | None,
    reason: str | None,
    masked: tuple[str, ...] | None,
    ttl_seconds: int,
    issued: int,
) -> str:
    claims: dict = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": issued,
        "exp": issued + ttl_seconds,
        "sub": subject,
        "role": role,
    }
    if customer_scope is not None:
        claims["scope"] = customer_scope
    if reason is not None:
        claims["reason"] = reason
    if masked is not None:
        claims["masked"] = list(masked)
    return jwt.encode(claims, key, algorithm="HS256")


# (key, exact token) -> (its `exp`, the caller). Keyed by the key too, so after the key changes
# no credential is taken as verified under the old one. Only valid credentials are kept.
def _verified_cache(size: int) -> TLRUCache[tuple[str, str], tuple[float, Actor]]:
    return TLRUCache(size, ttu=lambda _key, value, _now: value[0], timer=time.time)


_verified = _verified_cache(VERIFIED_CACHE_SIZE)


def verify_credential(key: str, credential: str | None) -> Actor:
    """The caller a credential names, if it is valid under `key`. The gateway sends one caller
    the same credential for a second (and tools for minutes), so a verified one is remembered
    until its `exp` and a repeat costs a look-up, not an HMAC and a claims check."""
    if not credential:
        raise Unauthorized("This service answers only calls the gateway vouches for.")
    try:
        return _verified[(key, credential)][1]
    except KeyError:  # not seen, or expired
        pass
    actor, expires_at = _verify(key, credential)
    _verified[(key, credential)] = (expires_at, actor)
    return actor


def _verify(key: str, credential: str) -> tuple[Actor, float]:
    try:
        claims = jwt.decode(
            credential,
            key,
            algorithms=["HS256"],
            issuer=ISSUER,
            audience=AUDIENCE,
            options={"require": ["exp", "iat", "sub", "role", "iss", "aud"]},
        )
    except jwt.InvalidTokenError:
        raise Unauthorized("The caller credential is not valid.") from None
    subject, role = claims["sub"], claims["role"]
    lifetime = claims["exp"] - claims["iat"]
    if (
        not isinstance(subject, str)
        or not subject
        or not isinstance(role, str)
        or not role
        or not isinstance(lifetime, int)
        or not 0 < lifetime <= MAX_TTL_SECONDS
    ):
        raise Unauthorized("The caller credential is not valid.")
    scope, reason, masked = claims.get("scope"), claims.get("reason"), claims.get("masked")
    if masked is not None and not (isinstance(masked, list) and all(isinstance(name, str) for name in masked)):
        raise Unauthorized("The caller credential is not valid.")
    actor = Actor(
        subject,
        role,
        scope if isinstance(scope, str) else None,
        reason if isinstance(reason, str) else None,
        frozenset(masked) if masked is not None else None,
    )
    return actor, float(claims["exp"])


async def caller(request: Request) -> Actor:
    """The verified caller; every service route depends on it (services/kit/app.py). The header is
    read from the request itself: declared as a header parameter, it went through FastAPI's
    parameter validation on every call, for a value `verify_credential` checks anyway.

    A role the access policy does not grant the route is refused (403), as the gateway does, and
    so is a body setting a field the policy does not let the role set there.

    A caller scoped to one customer gets, on any route whose path names another customer, the
    404 an unknown id gets: every service holds to the scope itself, not only the gateway."""
    actor = verify_credential(request.app.state.settings.service_identity_key, request.headers.get(CREDENTIAL_HEADER))
    # The role is checked again here, against the route the request matched (services/kit/access.py),
    # and so are the fields it sets, where the route has write rules (the body is then parsed
    # here too; the gateway's own calls, the hot decision among them, skip it).
    route_roles, route = request.app.state.route_roles, request.scope["route"].path
    route_roles.check(actor.role, request.method, route)
    if route_roles.checks_fields(actor.role, request.method, route):
        route_roles.check_fields(actor.role, request.method, route, await _json_body(request))
    named = request.path_params.get("customer_id")
    if named is not None and not actor.reaches(named):
        raise NotFound("No customer has this id.")
    return actor


async def _json_body(request: Request) -> object:
    """The request's JSON body, or None where it is none (the route itself then answers the 422)."""
    try:
        return json.loads(await request.body())
    except ValueError:
        return None


ActorDep = Annotated[Actor, Depends(caller)]


class CallerClaims(TypedDict, total=False):
    """The optional claims of a credential (see `sign_credential`)."""

    customer_scope: str | None
    reason: str | None
    masked: tuple[str, ...] | None


def credential_headers(key: str, role: str, subject: str, **claims: Unpack[CallerClaims]) -> dict[str, str]:
    return {CREDENTIAL_HEADER: sign_credential(key, role, subject, **claims)}


class _CallerHeaders(Mapping[str, str]):
    """A caller's headers whose credential is signed afresh each time it is read, so a test or
    tool can keep them for longer than one credential lives."""

    def __init__(self, role: str, subject: str, claims: CallerClaims):
        self._role, self._subject, self._claims = role, subject, claims

    def __getitem__(self, name: str) -> str:
        if name != CREDENTIAL_HEADER:
            raise KeyError(name)
        key = resolve_service_identity_key(
            os.environ.get(SERVICE_IDENTITY_KEY_SETTING, ""), os.environ.get("CRM_ENVIRONMENT", "development")
        )
        # As long-lived as services accept, for tools that sign once and call for a while.
        return sign_credential(key, self._role, self._subject, **self._claims, ttl_seconds=MAX_TTL_SECONDS)

    def __iter__(self):
        return iter((CREDENTIAL_HEADER,))

    def __len__(self) -> int:
        return 1


def caller_headers(role: str, subject: str | None = None, **claims: Unpack[CallerClaims]) -> Mapping[str, str]:
    """The headers by which a service learns who calls it, as the gateway sends them (and as
    tests and tools that call one service directly send them). The one place that knows their
    form; signs with the key of this environment (CRM_SERVICE_IDENTITY_KEY)."""
    return _CallerHeaders(role, subject or f"user-{role}", claims)
