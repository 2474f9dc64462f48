"""One handler for every policy route: authenticate, authorise, forward, mask, audit."""

import json
import re
import time
from dataclasses import dataclass, field
from urllib.parse import quote

import orjson
import structlog
from cachetools import TTLCache
from fastapi import Request, Response
from opentelemetry import propagate
from sqlalchemy.ext.asyncio import AsyncEngine

from events.tracing import current_trace_id
from gateway import local
from gateway.audit import AuditWriteFailed, GroupCommit, access_audit
from gateway.auth import Caller, TokenVerifier
from gateway.consent import ConsentChecker, ConsentUnavailable
from gateway.limits import RateLimits, check_json_depth, read_body
from gateway.policy import ObjectOwner, Policy, Route, TokenBearer
from gateway.settings import GatewaySettings
from gateway.upstream import Upstream, UpstreamError, UpstreamResponse
from services.kit.access import ANONYMOUS_ROLE, fields_refused
from services.kit.identity import GATEWAY_ROLE, credential_headers
from services.kit.observability import tracing_recorded
from services.kit.problems import (
    AuditUnavailable,
    BadGateway,
    Forbidden,
    GatewayTimeout,
    NotFound,
    Problem,
    Unauthorized,
)

log = structlog.get_logger(__name__)

# The caller of a token_bearer route: no identity, no role, nothing in clear.
ANONYMOUS = Caller(subject="anonymous", role=ANONYMOUS_ROLE)
FORWARDED_REQUEST_HEADERS = ("content-type", "accept", "if-match", "if-none-match")
MAX_REASON_CHARS = 500


@dataclass
class Gateway:
    settings: GatewaySettings
    policy: Policy
    verifier: TokenVerifier
    upstream: Upstream
    engine: AsyncEngine  # the audit database
    consent: ConsentChecker
    # The profile service's data catalogue: field -> declaration (refreshed in the background).
    declarations: dict[str, dict] = field(default_factory=dict)
    mask_rules: dict = field(init=False)
    assignments: "ManagerAssignments" = field(init=False)
    audit_writer: GroupCommit = field(init=False)
    rate_limits: RateLimits = field(init=False)
    # token_bearer routes: calls per client address and minute, one limit per route.
    bearer_limits: dict[str, RateLimits] = field(default_factory=dict)

    def own_credential(self) -> dict[str, str]:
        """Headers of the gateway's own calls to the services (catalogue, owners, decisions)."""
        return credential_headers(self.settings.service_identity_key, GATEWAY_ROLE, "gateway")

    async def refresh_declarations(self) -> bool:
        url = self.settings.upstream_url("profile") + "/api/v1/data-declarations"
        try:
            answer = await self.upstream.request("GET", url, headers=self.own_credential(), body=b"")
        except UpstreamError:
            return False
        if answer.status != 200:
            return False
        # The customer record's fields: what masking and partner sharing apply to.
        self.declarations = {item["name"]: item for item in json.loads(answer.body) if item.get("table") == "customers"}
        self.mask_rules = self.policy.mask_rules(
            {name for name, item in self.declarations.items() if item["sensitivity"] != "internal"}
        )
        return True

    def __post_init__(self):
        self.mask_rules = self.policy.mask_rules(None)
        self.assignments = ManagerAssignments(self)
        self.audit_writer = GroupCommit(access_audit, self.engine)
        self.rate_limits = RateLimits(self.settings.rate_limits)

    async def authenticate(self, request: Request) -> Caller:
        """The caller, counted against their rate limit; a failed attempt counts against the
        client address, so guessing tokens is limited too."""
        try:
            caller = await self.verifier.verify(request.headers.get("authorization"))
        except Unauthorized:
            await self.rate_limits.hit(f"address:{request.client.host if request.client else '-'}")
            raise
        await self.rate_limits.hit(f"caller:{caller.role}:{caller.subject}")
        return caller

    async def handle(self, request: Request, route: Route) -> Response:
        body = await read_body(
            request,
            limit=route.max_body_bytes or self.settings.max_body_bytes,
            timeout=self.settings.body_timeout_seconds,
        )
        parsed = self._parsed(request, body)
        if route.token_bearer is not None:
            caller = await self._token_bearer(request, route, route.token_bearer, parsed)
        else:
            caller = await self.authenticate(request)
        reason = request.headers.get("x-access-reason")
        if reason is not None and len(reason) > MAX_REASON_CHARS:
            raise Problem(f"X-Access-Reason may be at most {MAX_REASON_CHARS} characters.", title="Reason too long")
        customer_id = self._customer_id(request, route, parsed)
        status = 500
        in_clear: set[str] = set()
        recorded_upstream = False
        try:
            if route.owner is not None and caller.role in route.roles:
                customer_id = await self._owner_of(request, route, route.owner)
            self._authorise(caller, route, customer_id, reason)
            if refused := route.forbidden_fields(caller.role, parsed):
                raise fields_refused(caller.role, refused)
            # Profile keeps managers to their own customers itself; for the other services, the
            # gateway asks profile who manages the customer.
            if (
                customer_id is not None
                and caller.role in self.policy.assigned_only_roles
                and route.upstream != "profile"
                and await self.assignments.manager_of(customer_id) != caller.subject
            ):
                raise self._not_found(route)
            if route.partner_share:
                if customer_id is None:  # unreachable: the policy gives partner_share routes a customer_param
                    raise self._not_found(route)
                response, in_clear = await self._share_with_partner(request, route, caller, customer_id)
            else:
                if customer_id is not None and caller.role in self.policy.consent_required:
                    await self._require_consent(caller, customer_id)
                rules = self._mask_rules(route)
                masked = None if rules is None else tuple(sorted(rules.keys() - self.policy.clear_fields(caller.role)))
                answer = await self._call(request, route, caller, body, masked=masked)
                response, in_clear = self._respond(answer, caller, rules)
                # The service recorded this access itself, in the statement that read the data,
                # with the fields this caller receives in clear (the `masked` it was told): one
                # access, one record. Refusals and failures are the gateway's to record.
                recorded_upstream = masked is not None and answer.recorded_by is not None and 200 <= answer.status < 300
            status = response.status_code
            if customer_id is None and route.response_customer_field and 200 <= status < 300:
                customer_id = _field_of(response, route.response_customer_field)
            return response
        except Problem as problem:
            status = problem.status
            raise
        finally:
            if route.customer_data and not recorded_upstream:
                await self._audit(caller, route, customer_id, in_clear, reason, status)

    async def _audit(self, caller: Caller, route: Route, customer_id, in_clear: set[str], reason, status: int) -> None:
        """Record the access before the answer leaves; if it cannot be recorded, nothing leaves.
        Committed with the rows of concurrent calls (GroupCommit): one INSERT and one commit for
        all of them, each call answered only once its own row is committed."""
        row = access_audit.row(
            actor=caller.subject,
            role=caller.role,
            action=f"{route.method} {route.path}",
            customer_id=customer_id,
            fields=in_clear,
            reason=reason,
            outcome=str(status),
        )
        try:
            await self.audit_writer.record(row)
        except AuditWriteFailed as error:
            log.error("access_audit_unavailable", error_type=type(error.__cause__).__name__)
            raise AuditUnavailable() from None

    def _parsed(self, request: Request, body: bytes) -> object:
        """The JSON body, parsed once its nesting is known to be bounded; None when not JSON
        (the service answers a malformed body with a 422)."""
        if not body or "json" not in request.headers.get("content-type", "json"):
            return None
        check_json_depth(body, self.settings.max_json_depth)
        try:
            return json.loads(body)
        except ValueError:
            return None

    def _customer_id(self, request: Request, route: Route, parsed: object) -> str | None:
        if route.customer_param:
            return request.path_params.get(route.customer_param)
        if route.customer_field and isinstance(parsed, dict):
            value = parsed.get(route.customer_field)
            return value if isinstance(value, str) else None
        return None

    async def _token_bearer(self, request: Request, route: Route, rule: TokenBearer, parsed) -> Caller:
        """No login: limit calls per client address, and let through only a body carrying a
        well-formed credential (`rule`, the route's); the service checks the credential itself."""
        limits = self.bearer_limits.setdefault(route.path, RateLimits(f"{rule.per_minute}/minute"))
        await limits.hit(f"{route.path}:{request.client.host if request.client else '-'}")
        value = parsed.get(rule.body_field) if isinstance(parsed, dict) else None
        if not isinstance(value, str) or not re.fullmatch(rule.pattern, value):
            raise Unauthorized(f"Send the `{rule.body_field}` you received, exactly as received.")
        return ANONYMOUS

    @staticmethod
    def _not_found(route: Route) -> NotFound:
        """One answer for an object that does not exist and one the caller may not see."""
        return NotFound(f"No {route.owner.noun if route.owner else 'customer'} has this id.")

    async def _owner_of(self, request: Request, route: Route, owner: ObjectOwner) -> str:
        """The customer who owns the object the path names (`owner`, the route's), asked of its
        service as the gateway."""
        object_id = request.path_params[owner.param]
        url = self.settings.upstream_url(route.upstream) + owner.lookup.format(
            **{owner.param: quote(object_id, safe="")}
        )
        try:
            answer = await self.upstream.request("GET", url, headers=self.own_credential(), body=b"")
        except UpstreamError:
            raise BadGateway(f"The {route.upstream} service is unavailable; retry later.") from None
        if answer.status != 200:
            raise self._not_found(route)
        customer_id = json.loads(answer.body).get(owner.field)
        if not isinstance(customer_id, str):
            raise self._not_found(route)
        return customer_id

    def _authorise(self, caller: Caller, route: Route, customer_id: str | None, reason: str | None) -> None:
        if route.token_bearer and caller is ANONYMOUS:
            return
        if caller.role not in route.roles:
            raise Forbidden(f"The role '{caller.role}' may not call {route.method} {route.path}.")
        if caller.role in self.policy.self_scoped_roles and customer_id is not None and customer_id != caller.subject:
            raise self._not_found(route)
        if route.customer_data and caller.role in self.policy.masking.reason_required and not (reason or "").strip():
            raise Problem(
                f"The role '{caller.role}' must say why it accesses customer data: send an X-Access-Reason header.",
                status=400,
                title="Access reason required",
            )

    async def _call(
        self, request: Request, route: Route, caller: Caller, body: bytes, masked: tuple[str, ...] | None = None
    ) -> UpstreamResponse:
        """The route's answer, from its service (or the gateway's own handler); `masked`, the
        fields the gateway masks for the caller in it, goes to the service with the caller."""
        if route.upstream == "gateway":
            return await local.HANDLERS[route.path](self, request)
        headers = {k: v for k in FORWARDED_REQUEST_HEADERS if (v := request.headers.get(k)) is not None}
        headers["x-request-id"] = current_trace_id.get() or ""
        # The caller's trace goes on to the service (with spans recorded, the transport's client
        # span sends its own traceparent instead: gateway/upstream.py).
        if not tracing_recorded():
            propagate.inject(headers)
        headers.update(
            credential_headers(
                self.settings.service_identity_key,
                caller.role,
                caller.subject,
                customer_scope=caller.subject if caller.role in self.policy.self_scoped_roles else None,
                reason=request.headers.get("x-access-reason"),
                masked=masked,
            )
        )
        if route.upstream_path:
            url = self.settings.upstream_url(route.upstream) + route.upstream_path.format(
                **{name: quote(value, safe="") for name, value in request.path_params.items()}
            )
        else:
            # From the scope: `request.url` would build (and parse the Host of) a whole URL per call.
            url = self.settings.upstream_url(route.upstream) + request.scope["path"]
        if query := request.scope["query_string"]:
            url += "?" + query.decode("latin-1")
        try:
            return await self.upstream.request(
                route.method, url, headers=headers, body=body, timeout=route.timeout_seconds
            )
        except UpstreamError as error:
            log.warning("upstream_unavailable", upstream=route.upstream, timed_out=error.timed_out)
            if error.timed_out:
                raise GatewayTimeout(f"The {route.upstream} service did not answer in time; retry later.") from None
            raise BadGateway(f"The {route.upstream} service is unavailable; retry later.") from None

    def _mask_rules(self, route: Route) -> dict | None:
        """The masking rules of the route's answer (field -> rule); None when it masks nothing."""
        if not route.mask:
            return None
        if route.mask == "catalogue":
            return self.mask_rules
        return {name: self.policy.masking.fields[name] for name in route.mask}

    def _respond(self, answer: UpstreamResponse, caller: Caller, rules: dict | None) -> tuple[Response, set[str]]:
        """The service's answer, with the fields `rules` names masked for the caller's role."""
        content = answer.body
        in_clear: set[str] = set()
        media_type = answer.headers.get("content-type", "")
        if rules is not None and answer.body and "application/json" in media_type:
            masked, in_clear = self.policy.mask(orjson.loads(answer.body), caller.role, rules)
            content = orjson.dumps(masked)
        headers_back = {k: v for k, v in answer.headers.items() if k not in ("content-type", "x-request-id")}
        return Response(
            content, status_code=answer.status, headers=headers_back, media_type=media_type or None
        ), in_clear

    async def _require_consent(self, caller: Caller, customer_id: str) -> None:
        rule = self.policy.consent_required[caller.role]
        try:
            permitted = await self.consent.permits(
                customer_id=customer_id,
                recipient=rule.recipient,
                purpose=rule.purpose,
                categories=tuple(rule.categories),
            )
        except ConsentUnavailable:
            raise BadGateway(
                "The consent service is unavailable, so no customer data is released; retry later."
            ) from None
        if not permitted:
            raise Forbidden(f"The customer has not consented to {rule.purpose} use of their data.")

    async def _share_with_partner(
        self, request: Request, route: Route, caller: Caller, customer_id: str
    ) -> tuple[Response, set[str]]:
        """Only the categories the customer consented to for this partner and purpose leave, and
        only fields that identify nobody; the customer appears under a per-partner pseudonym."""
        purpose = request.query_params.get("purpose")
        if not purpose:
            raise Problem(
                "Say why you need the data: add ?purpose=<one of the consent purposes>.", title="Purpose required"
            )
        if not self.declarations:
            raise Problem("The data catalogue is not loaded yet; retry shortly.", status=503, title="Not ready")
        answer = await self._call(request, route, caller, b"")
        not_shared = NotFound("No customer shared with you has this id.")
        if answer.status == 404:
            raise not_shared  # as for a customer who shares nothing with this partner
        if answer.status != 200:
            return self._respond(answer, caller, self._mask_rules(route))
        record = json.loads(answer.body)
        shareable = {
            name
            for name in record
            if (declared := self.declarations.get(name))
            and declared["sensitivity"] == "internal"
            and not declared["identifying"]
            and declared["category"] != "operational"
        }
        categories = {self.declarations[name]["category"] for name in shareable}
        try:
            permitted = await self.consent.permitted_categories(
                customer_id=customer_id, recipient=caller.subject, purpose=purpose, categories=categories
            )
        except ConsentUnavailable:
            raise BadGateway(
                "The consent service is unavailable, so no customer data is released; retry later."
            ) from None
        if not permitted:
            # The same answer as for an unknown id: a partner learns nothing of who is a customer.
            raise not_shared
        data = {name: record[name] for name in sorted(shareable) if self.declarations[name]["category"] in permitted}
        shared = {
            "subject": self.consent.pseudonym(caller.subject, customer_id),
            "purpose": purpose,
            "categories": sorted(permitted),
            "data": data,
        }
        return Response(json.dumps(shared).encode(), media_type="application/json"), set(data)


def _field_of(response: Response, field: str) -> str | None:
    try:
        value = json.loads(bytes(response.body)).get(field)
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None


class ManagerAssignments:
    """Who manages each customer, as the profile service says; cached briefly, since it is asked
    on every manager's call to another service. A reassignment reaches the gateway within TTL."""

    TTL_SECONDS = 30.0
    MAX_ENTRIES = 100_000

    def __init__(self, gateway: Gateway):
        self.gateway = gateway
        # The least recently used customer goes first when it is full.
        self._cache: TTLCache[str, str | None] = TTLCache(self.MAX_ENTRIES, self.TTL_SECONDS, time.monotonic)

    async def manager_of(self, customer_id: str) -> str | None:
        try:
            return self._cache[customer_id]
        except KeyError:  # not cached, or expired
            pass
        url = f"{self.gateway.settings.upstream_url('profile')}/api/v1/customers/{quote(customer_id, safe='')}/relationship-manager"
        try:
            answer = await self.gateway.upstream.request("GET", url, headers=self.gateway.own_credential(), body=b"")
        except UpstreamError:
            raise BadGateway(
                "The profile service is unavailable to check the customer's manager; retry later."
            ) from None
        if answer.status != 200:
            return None
        manager = json.loads(answer.body).get("relationship_manager_id")
        self._cache[customer_id] = manager
        return manager
