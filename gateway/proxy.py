"""One handler for every policy route: authenticate, authorise, forward, mask, audit."""

import json
import time
from urllib.parse import quote
from dataclasses import dataclass, field

import structlog
from fastapi import Request, Response
from sqlalchemy.exc import SQLAlchemyError

from events.tracing import current_trace_id
from gateway.audit import access_audit
from gateway.auth import Caller, TokenVerifier
from gateway.consent import ConsentChecker, ConsentUnavailable
from gateway.policy import Policy, Route
from gateway.settings import GatewaySettings
from gateway.upstream import Upstream, UpstreamError, UpstreamResponse
from services.kit.problems import PROBLEM_MEDIA_TYPE, Forbidden, NotFound, Problem

log = structlog.get_logger(__name__)

FORWARDED_REQUEST_HEADERS = ("content-type", "accept", "if-match", "if-none-match", "x-access-reason")


class BadGateway(Problem):
    status = 502
    title = "Bad gateway"


class GatewayTimeout(Problem):
    status = 504
    title = "Gateway timeout"


@dataclass
class Gateway:
    settings: GatewaySettings
    policy: Policy
    verifier: TokenVerifier
    upstream: Upstream
    engine: object  # AsyncEngine of the audit database
    consent: ConsentChecker
    # The profile service's data catalogue: field -> declaration (refreshed in the background).
    declarations: dict[str, dict] = field(default_factory=dict)
    mask_rules: dict = field(init=False)
    assignments: "ManagerAssignments" = field(init=False)

    async def refresh_declarations(self) -> bool:
        url = self.settings.upstream_url("profile") + "/api/v1/data-declarations"
        try:
            answer = await self.upstream.request("GET", url, headers={}, body=b"")
        except UpstreamError:
            return False
        if answer.status != 200:
            return False
        self.declarations = {item["name"]: item for item in json.loads(answer.body)}
        self.mask_rules = self.policy.mask_rules(
            {name for name, item in self.declarations.items() if item["sensitivity"] != "internal"}
        )
        return True

    def __post_init__(self):
        self.mask_rules = self.policy.mask_rules(set())
        self.assignments = ManagerAssignments(self)

    async def handle(self, request: Request, route: Route) -> Response:
        caller = await self.verifier.verify(request.headers.get("authorization"))
        reason = request.headers.get("x-access-reason")
        body = await request.body()
        customer_id = self._customer_id(request, route, body)
        status = 500
        in_clear: set[str] = set()
        try:
            self._authorise(caller, route, customer_id, reason)
            if customer_id is not None and caller.role in self.policy.assigned_only_roles and route.upstream != "profile":
                # Profile keeps managers to their own customers itself; for the other services,
                # the gateway asks profile who manages the customer.
                if await self.assignments.manager_of(customer_id) != caller.subject:
                    raise NotFound("No customer has this id.")
            if route.partner_share:
                response, in_clear = await self._share_with_partner(request, route, caller, customer_id)
            else:
                if customer_id is not None and caller.role in self.policy.consent_required:
                    await self._require_consent(caller, customer_id)
                response, in_clear = self._respond(await self._call(request, route, caller, body), caller)
            status = response.status_code
            if customer_id is None and route.response_customer_field and 200 <= status < 300:
                customer_id = _field_of(response, route.response_customer_field)
            return response
        except Problem as problem:
            status = problem.status
            raise
        finally:
            if route.customer_data:
                await self._audit(caller, route, customer_id, in_clear, reason, status)

    async def _audit(self, caller: Caller, route: Route, customer_id, in_clear: set[str], reason, status: int) -> None:
        """Record the access before the answer leaves; if it cannot be recorded, nothing leaves.
        One INSERT on its own (autocommit): one round trip, committed when it returns."""
        try:
            async with self.engine.connect() as connection:
                await connection.execution_options(isolation_level="AUTOCOMMIT")
                await access_audit.record(
                    connection,
                    actor=caller.subject,
                    role=caller.role,
                    action=f"{route.method} {route.path}",
                    customer_id=customer_id,
                    fields=in_clear,
                    reason=reason,
                    outcome=str(status),
                )
        except (SQLAlchemyError, OSError) as error:
            log.error("access_audit_unavailable", error_type=type(error).__name__)
            raise Problem(
                "The access could not be recorded, so no customer data is released; retry later.",
                status=503, title="Audit unavailable",
            ) from None

    def _customer_id(self, request: Request, route: Route, body: bytes) -> str | None:
        if route.customer_param:
            return request.path_params.get(route.customer_param)
        if route.customer_field and body:
            try:
                parsed = json.loads(body)
            except ValueError:
                return None  # the service answers the malformed body with a 422
            value = parsed.get(route.customer_field) if isinstance(parsed, dict) else None
            return value if isinstance(value, str) else None
        return None

    def _authorise(self, caller: Caller, route: Route, customer_id: str | None, reason: str | None) -> None:
        if caller.role not in route.roles:
            raise Forbidden(f"The role '{caller.role}' may not call {route.method} {route.path}.")
        if caller.role in self.policy.self_scoped_roles and customer_id is not None and customer_id != caller.subject:
            raise NotFound("No customer has this id.")
        if route.customer_data and caller.role in self.policy.masking.reason_required and not (reason or "").strip():
            raise Problem(
                f"The role '{caller.role}' must say why it accesses customer data: send an X-Access-Reason header.",
                status=400,
                title="Access reason required",
            )

    async def _call(self, request: Request, route: Route, caller: Caller, body: bytes) -> UpstreamResponse:
        headers = {k: v for k in FORWARDED_REQUEST_HEADERS if (v := request.headers.get(k)) is not None}
        headers["x-request-id"] = current_trace_id.get() or ""
        headers["x-actor-id"] = caller.subject
        headers["x-actor-role"] = caller.role
        if route.scope_header and caller.role in self.policy.self_scoped_roles:
            headers["x-customer-scope"] = caller.subject
        if route.upstream_path:
            url = self.settings.upstream_url(route.upstream) + route.upstream_path.format(
                **{name: quote(value, safe="") for name, value in request.path_params.items()}
            )
        else:
            url = self.settings.upstream_url(route.upstream) + request.url.path
            if request.url.query:
                url += "?" + request.url.query
        try:
            return await self.upstream.request(
                route.method, url, headers=headers, body=body, timeout=route.timeout_seconds
            )
        except UpstreamError as error:
            log.warning("upstream_unavailable", upstream=route.upstream, timed_out=error.timed_out)
            if error.timed_out:
                raise GatewayTimeout(f"The {route.upstream} service did not answer in time; retry later.") from None
            raise BadGateway(f"The {route.upstream} service is unavailable; retry later.") from None

    def _respond(self, answer: UpstreamResponse, caller: Caller) -> tuple[Response, set[str]]:
        """The service's answer, its customer fields masked for the caller's role."""
        content, in_clear = answer.body, set()
        media_type = answer.headers.get("content-type", "")
        if answer.body and ("application/json" in media_type or PROBLEM_MEDIA_TYPE in media_type):
            masked, in_clear = self.policy.mask(json.loads(answer.body), caller.role, self.mask_rules)
            content = json.dumps(masked, separators=(",", ":"), ensure_ascii=False).encode()
        headers_back = {k: v for k, v in answer.headers.items() if k not in ("content-type", "x-request-id")}
        return Response(content, status_code=answer.status, headers=headers_back, media_type=media_type or None), in_clear

    async def _require_consent(self, caller: Caller, customer_id: str) -> None:
        rule = self.policy.consent_required[caller.role]
        try:
            permitted = await self.consent.permits(
                customer_id=customer_id, recipient=rule.recipient, purpose=rule.purpose, categories=tuple(rule.categories)
            )
        except ConsentUnavailable:
            raise BadGateway("The consent service is unavailable, so no customer data is released; retry later.") from None
        if not permitted:
            raise Forbidden(f"The customer has not consented to {rule.purpose} use of their data.")

    async def _share_with_partner(
        self, request: Request, route: Route, caller: Caller, customer_id: str
    ) -> tuple[Response, set[str]]:
        """Only the categories the customer consented to for this partner and purpose leave, and
        only fields that identify nobody; the customer appears under a per-partner pseudonym."""
        purpose = request.query_params.get("purpose")
        if not purpose:
            raise Problem("Say why you need the data: add ?purpose=<one of the consent purposes>.",
                          title="Purpose required")
        if not self.declarations:
            raise Problem("The data catalogue is not loaded yet; retry shortly.", status=503, title="Not ready")
        answer = await self._call(request, route, caller, b"")
        if answer.status != 200:
            return self._respond(answer, caller)
        record = json.loads(answer.body)
        shareable = {
            name for name in record
            if (declared := self.declarations.get(name)) and declared["sensitivity"] == "internal" and not declared["identifying"]
        }
        categories = {self.declarations[name]["category"] for name in shareable}
        try:
            permitted = await self.consent.permitted_categories(
                customer_id=customer_id, recipient=caller.subject, purpose=purpose, categories=categories
            )
        except ConsentUnavailable:
            raise BadGateway("The consent service is unavailable, so no customer data is released; retry later.") from None
        if not permitted:
            raise Forbidden(f"No active consent lets '{caller.subject}' receive this customer's data for {purpose}.")
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
        value = json.loads(response.body).get(field)
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
        self._cache: dict[str, tuple[float, str | None]] = {}

    async def manager_of(self, customer_id: str) -> str | None:
        cached = self._cache.get(customer_id)
        if cached and cached[0] > time.monotonic():
            return cached[1]
        url = f"{self.gateway.settings.upstream_url('profile')}/api/v1/customers/{quote(customer_id, safe='')}/relationship-manager"
        try:
            answer = await self.gateway.upstream.request("GET", url, headers={}, body=b"")
        except UpstreamError:
            raise BadGateway("The profile service is unavailable to check the customer's manager; retry later.") from None
        if answer.status != 200:
            return None
        manager = json.loads(answer.body).get("relationship_manager_id")
        if len(self._cache) >= self.MAX_ENTRIES:
            self._cache.clear()
        self._cache[customer_id] = (time.monotonic() + self.TTL_SECONDS, manager)
        return manager
