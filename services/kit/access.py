"""Which roles a service answers on each of its routes, as the platform's access policy says.

The policy (gateway/policy.yaml, the one place access is changed) is read by the gateway, which
refuses a role before anything is forwarded, and by every service for its own routes, which
refuses it again where the data is: a route the gateway maps wrongly, or a credential signed for
one call and sent to another route, reaches nothing the caller's role may not reach. The gateway
acting in its own name (data catalogue, owner look-ups, consent decisions) passes everywhere.
"""

from collections.abc import Iterable

from gateway.policy import Policy, Route
from services.kit.identity import GATEWAY_ROLE
from services.kit.problems import Forbidden

# The role of a token-bearer route's caller, whom the gateway lets through without a login
# (gateway/proxy.py ANONYMOUS); the service checks the credential in the body itself.
ANONYMOUS_ROLE = "anonymous"


class RouteRoles:
    """(method, route template on the service) -> the roles that may call it."""

    def __init__(self, grants: dict[tuple[str, str], frozenset[str]]):
        self.grants = grants

    @classmethod
    def of(cls, policy: Policy, service: str) -> "RouteRoles":
        grants: dict[tuple[str, str], set[str]] = {}
        for route in policy.routes:
            if route.upstream == service:
                grants.setdefault((route.method, route.upstream_path or route.path), set()).update(_roles(route))
        return cls({key: frozenset(roles) for key, roles in grants.items()})

    def require_served(self, served: set[tuple[str, str]], service: str) -> None:
        """Refuses to start when the policy grants roles on a route this service does not serve
        (a mistyped path would otherwise leave the real route to the gateway alone)."""
        unknown = sorted(set(self.grants) - served)
        if unknown:
            listed = "; ".join(f"{method} {path}" for method, path in unknown)
            raise ValueError(f"The access policy names routes the {service} service does not serve: {listed}")

    def check(self, role: str, method: str, path: str) -> None:
        """Refuses (403) a role the policy does not grant this route; a route the policy does
        not list is the gateway's own (its look-ups)."""
        granted = self.grants.get((method, path), frozenset())
        if role == GATEWAY_ROLE or role in granted:
            return
        who = f"these roles may: {', '.join(sorted(granted))}" if granted else "only the gateway calls it"
        raise Forbidden(f"The role '{role}' may not call {method} {path}; {who}.")


def _roles(route: Route) -> Iterable[str]:
    yield from route.roles
    if route.token_bearer is not None:
        yield ANONYMOUS_ROLE
