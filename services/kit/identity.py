"""The caller of a service request, as the gateway passes it on."""

from typing import Annotated

from fastapi import Depends, Header


class Actor:
    """Who is acting, as the gateway vouches for it (X-Actor-Id, X-Actor-Role). Services are
    reachable only from the gateway (see deploy/ network policies)."""

    def __init__(self, actor_id: str, role: str, scope: str | None, reason: str | None):
        self.id = actor_id
        self.role = role
        # Set for self-scoped callers (customers): the only customer id they may act for.
        self.customer_scope = scope
        # Why the caller accesses customer data, where their role must say (X-Access-Reason).
        self.reason = reason


def _actor(
    x_actor_id: Annotated[str | None, Header(include_in_schema=False)] = None,
    x_actor_role: Annotated[str | None, Header(include_in_schema=False)] = None,
    x_customer_scope: Annotated[str | None, Header(include_in_schema=False)] = None,
    x_access_reason: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Actor:
    return Actor(x_actor_id or "internal", x_actor_role or "internal", x_customer_scope, x_access_reason)


ActorDep = Annotated[Actor, Depends(_actor)]


def caller_headers(
    role: str, subject: str | None = None, *, customer_scope: str | None = None, reason: str | None = None
) -> dict[str, str]:
    """The headers by which a service learns who calls it, as the gateway sends them (and as
    tests of one service in process send them). The one place that knows their form."""
    headers = {"X-Actor-Id": subject or f"user-{role}", "X-Actor-Role": role}
    if customer_scope is not None:
        headers["X-Customer-Scope"] = customer_scope
    if reason is not None:
        headers["X-Access-Reason"] = reason
    return headers
