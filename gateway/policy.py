"""The access policy (policy.yaml) as typed data: routes, roles and field masking."""

from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator


class MaskRule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    keep_first: int = 0
    keep_last: int = 0
    email: bool = False
    # Masked as null: for values whose published format a partial mask would break (dates).
    as_null: bool = False

    def apply(self, value: str) -> str | None:
        if self.as_null:
            return None
        if self.email and "@" in value:
            local, domain = value.split("@", 1)
            return local[:1] + "*" * max(len(local) - 1, 0) + "@" + domain
        if len(value) <= self.keep_first + self.keep_last:
            return "*" * len(value)  # too short to keep anything without revealing it all
        end = len(value) - self.keep_last
        return value[: self.keep_first] + "*" * (end - self.keep_first) + value[end:]


FULL_MASK = MaskRule()


class Masking(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fields: dict[str, MaskRule]
    clear: dict[str, list[str]]
    reason_required: list[str] = []


class TokenBearer(BaseModel):
    """A route without login whose body carries a single-use credential the service checks."""

    model_config = ConfigDict(extra="forbid")

    body_field: str
    pattern: str
    per_minute: int = Field(gt=0, description="Calls allowed per client address and minute.")


class ObjectOwner(BaseModel):
    """How the gateway learns which customer owns the object a route names (object-level
    authorisation): it reads `lookup` on the route's service as itself and takes `field`."""

    model_config = ConfigDict(extra="forbid")

    param: str
    lookup: str
    field: str = "customer_id"
    noun: str = Field(description="What the object is called in the 404 answer, e.g. 'consent'.")


class Route(BaseModel):
    model_config = ConfigDict(extra="forbid")

    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
    path: str
    # `gateway`: answered by the gateway itself (gateway/local.py).
    upstream: Literal["profile", "consent", "recommendation", "churn", "feedback", "gateway"]
    roles: list[str]
    customer_data: bool = False
    customer_param: str | None = None
    customer_field: str | None = None
    response_customer_field: str | None = None
    timeout_seconds: float | None = None
    # Path on the service when it differs from the gateway's (e.g. partner views).
    upstream_path: str | None = None
    # Data leaves only as the categories the customer consented to for the calling partner.
    partner_share: bool = False
    token_bearer: TokenBearer | None = None
    # The path names an object other than a customer: its owner is resolved and checked first.
    owner: ObjectOwner | None = None
    # What of the answer is masked per role (masking.clear): `catalogue`, the customer fields
    # the profile's data catalogue declares sensitive; or a list of field names. Routes without
    # it are never masked.
    mask: Literal["catalogue"] | list[str] | None = None
    # Property-level write rules: body field -> roles that may set it. When given, a field not
    # listed (or listed with no roles) may be set by nobody through this route.
    writable: dict[str, list[str]] | None = None
    # Request body limit for this route (default: GATEWAY_MAX_BODY_BYTES).
    max_body_bytes: int | None = None

    def forbidden_fields(self, role: str, body: object) -> list[str]:
        return not_writable(self.writable, role, body)


def not_writable(writable: Mapping[str, Collection[str]] | None, role: str, body: object) -> list[str]:
    """The fields of a JSON body that `role` may not set under a route's `writable` rules (none
    where the route has no rules, or the body is not an object)."""
    if writable is None or not isinstance(body, dict):
        return []
    return sorted(name for name in body if role not in writable.get(name, ()))


class ConsentRule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    recipient: str
    purpose: str
    categories: list[str]


class Policy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    roles: list[str]
    self_scoped_roles: list[str] = []
    assigned_only_roles: list[str] = []
    consent_required: dict[str, ConsentRule] = {}
    routes: list[Route]
    masking: Masking

    @model_validator(mode="after")
    def _consistent(self):
        known = set(self.roles)
        for route in self.routes:
            unknown = set(route.roles) - known
            if unknown:
                raise ValueError(f"{route.method} {route.path}: unknown roles {sorted(unknown)}")
            if route.token_bearer and (route.roles or route.customer_data):
                raise ValueError(
                    f"{route.method} {route.path}: a token_bearer route names no roles and no customer data"
                )
            if not route.token_bearer and not route.roles:
                raise ValueError(f"{route.method} {route.path}: no role may call it")
            if route.customer_param and "{" + route.customer_param + "}" not in route.path:
                raise ValueError(f"{route.method} {route.path}: no path parameter {route.customer_param}")
            # A path naming any object must say how its customer is found: an id the gateway
            # cannot tie to a customer would skip customer scoping (broken object-level auth).
            # Routes no scoped role may call (e.g. compliance's queue, product management) scope nothing.
            scoped = set(route.roles) & (set(self.self_scoped_roles) | set(self.assigned_only_roles))
            if "{" in route.path and scoped and not (route.customer_param or route.owner):
                raise ValueError(f"{route.method} {route.path}: names an object but has no customer_param or owner")
            if route.partner_share and not route.customer_param:
                raise ValueError(f"{route.method} {route.path}: a partner_share route needs a customer_param")
            if route.owner and "{" + route.owner.param + "}" not in route.path:
                raise ValueError(f"{route.method} {route.path}: no path parameter {route.owner.param}")
            if isinstance(route.mask, list) and set(route.mask) - set(self.masking.fields):
                raise ValueError(f"{route.method} {route.path}: mask names fields without a mask rule")
            for name, roles in (route.writable or {}).items():
                if set(roles) - known:
                    raise ValueError(f"{route.method} {route.path}: writable.{name} names unknown roles")
        if set(self.masking.clear) != known:
            raise ValueError("masking.clear must list every role exactly once")
        for role, fields in self.masking.clear.items():
            if set(fields) - set(self.masking.fields):
                raise ValueError(f"masking.clear.{role} names fields without a mask rule")
        return self

    def clear_fields(self, role: str) -> frozenset[str]:
        return frozenset(self.masking.clear.get(role, ()))  # callers without a role see nothing in clear

    def mask_rules(self, declared_sensitive: set[str] | None) -> dict[str, MaskRule]:
        """A rule for each field the data catalogue declares sensitive: the policy's, or a full
        mask for a field the policy has no rule for (a newly declared field is never shown in
        clear). Before the catalogue is known (None), the policy's fields, all of them."""
        if declared_sensitive is None:
            return dict(self.masking.fields)
        return {name: self.masking.fields.get(name, FULL_MASK) for name in declared_sensitive}

    def mask(self, body, role: str, rules: dict[str, MaskRule]) -> tuple[object, set[str]]:
        """Mask `body` (parsed JSON) for `role` by `rules` (field -> rule, from the data
        catalogue); returns it and the protected fields left in clear."""
        clear = self.clear_fields(role)
        in_clear: set[str] = set()

        def walk(node):
            if isinstance(node, dict):
                out: dict[str, object] = {}
                for key, value in node.items():
                    if key in rules and isinstance(value, str):
                        if key in clear:
                            in_clear.add(key)
                            out[key] = value
                        else:
                            out[key] = rules[key].apply(value)
                    else:
                        out[key] = walk(value)
                return out
            if isinstance(node, list):
                return [walk(item) for item in node]
            return node

        return walk(body), in_clear


# The policy as shipped (the default of CRM_ACCESS_POLICY_FILE, read by the gateway and every service).
POLICY_FILE = Path(__file__).parent / "policy.yaml"


def load_policy(path: Path) -> Policy:
    # libyaml's loader: the same document as the pure-Python one, read in a tenth of the time.
    return Policy.model_validate(yaml.load(path.read_text(), Loader=yaml.CSafeLoader))
