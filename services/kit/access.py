"""Which roles a service answers on each of its routes, and which body fields each role may set
there, as the platform's access policy says.

The policy (gateway/policy.yaml, the one place access is changed) is read by the gateway, which
refuses a role before anything is forwarded, and by every service for its own routes, which
refuses it again where the data is: a route the gateway maps wrongly, or a credential signed for
one call and sent to another route, reaches nothing the caller's role may not reach. The gateway
acting in its own name (data catalogue, owner look-ups, consent decisions) passes everywhere.
The property-level write rules (a route's `writable`) are held to the same way: a role may set
only the body fields the policy lets it set on that route, at the gateway and at the service.
"""

from collections.abc import Iterable

from gateway.policy import Policy, Route, not_writable
from services.kit.identity import GATEWAY_ROLE
from services.kit.problems import Forbidden

# The role of a token-bearer route's caller, whom the gateway lets through without a login
# (gateway/proxy.py ANONYMOUS); the service checks the credential in the body itself.
ANONYMOUS_ROLE = "anonymous"


RouteKey = tuple[str, str]  # (method, route template on the service)
# Body field -> the roles that may set it; a field not listed may be set by nobody.
Writable = dict[str, frozenset[str]]


class RouteRoles:
    """(method, route template on the service) -> the roles that may call it, and the fields each
    may set where the policy says (`writable`)."""

    def __init__(self, grants: dict[RouteKey, frozenset[str]], writable: dict[RouteKey, Writable] | None = None):
        self.grants = grants
        self.writable = writable or {}

    @classmethod
    def of(cls, policy: Policy, service: str) -> "RouteRoles":
        grants: dict[RouteKey, set[str]] = {}
        # Where several of the policy's routes lead to one route of the service, a field is
        # settable by whoever any of them lets set it, and unrestricted if one has no rules.
        rules: dict[RouteKey, dict[str, set[str]] | None] = {}
        for route in policy.routes:
            if route.upstream != service:
                continue
            key = (route.method, route.upstream_path or route.path)
            grants.setdefault(key, set()).update(_roles(route))
            if route.writable is None or (key in rules and rules[key] is None):
                rules[key] = None
                continue
            merged = rules.setdefault(key, {})
            assert merged is not None
            for name, roles in route.writable.items():
                merged.setdefault(name, set()).update(roles)
        writable = {
            key: {name: frozenset(roles) for name, roles in fields.items()}
            for key, fields in rules.items()
            if fields is not None
        }
        return cls({key: frozenset(roles) for key, roles in grants.items()}, writable)

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

    def checks_fields(self, role: str, method: str, path: str) -> bool:
        """Whether `role`'s body on this route is held to write rules (the gateway's never is)."""
        return role != GATEWAY_ROLE and (method, path) in self.writable

    def check_fields(self, role: str, method: str, path: str, body: object) -> None:
        """Refuses (403) a body setting a field the policy does not let `role` set on this route
        (asked where `checks_fields` says so)."""
        if refused := not_writable(self.writable.get((method, path)), role, body):
            raise fields_refused(role, refused)


def fields_refused(role: str, fields: Iterable[str]) -> Forbidden:
    """The refusal of fields a role may not set, the same at the gateway and at the services."""
    return Forbidden(f"The role '{role}' may not set: {', '.join(fields)}.")


def _roles(route: Route) -> Iterable[str]:
    yield from route.roles
    if route.token_bearer is not None:
        yield ANONYMOUS_ROLE
