"""Routes the gateway answers itself (policy `upstream: gateway`): what only it holds (its
access audit) or what it merges from every component (the data catalogue). They go through the
same authentication, authorisation, masking and audit as every proxied route."""

import asyncio
import json

from fastapi import Request
from pydantic import ValidationError

from gateway.audit import access_audit
from gateway.declarations import CATALOGUE
from gateway.upstream import UpstreamError, UpstreamResponse
from services.kit.audit import AuditQuery, query_trail
from services.kit.problems import Problem

UPSTREAMS = ("profile", "consent", "recommendation", "churn", "feedback")
JSON = {"content-type": "application/json"}


def _answer(body, status: int = 200) -> UpstreamResponse:
    return UpstreamResponse(status=status, headers=dict(JSON), body=json.dumps(body, default=str).encode())


async def audit_records(gateway, request: Request) -> UpstreamResponse:
    """The gateway's own access audit, with the filters of every trail's query."""
    try:
        filters = AuditQuery.model_validate(dict(request.query_params))
    except ValidationError as error:
        detail = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors(include_input=False))
        raise Problem(f"Invalid query: {detail}", status=422, title="Invalid request") from None
    async with gateway.engine.connect() as connection:
        page = await query_trail(access_audit, connection, filters)
    return _answer(page.model_dump(mode="json"))


async def data_declarations(gateway, request: Request) -> UpstreamResponse:
    """Every component's catalogue, merged: each serves its own (no component reads another's
    database), the gateway adds its own. A component that does not answer fails the whole call,
    since a partial record of processing would mislead."""

    async def of(service: str) -> list:
        url = gateway.settings.upstream_url(service) + "/api/v1/data-declarations"
        try:
            answer = await gateway.upstream.request("GET", url, headers=gateway.own_credential(), body=b"")
        except UpstreamError:
            answer = None
        if answer is None or answer.status != 200:
            raise Problem(f"The {service} service did not serve its data catalogue; retry later.",
                          status=502, title="Bad gateway")
        return json.loads(answer.body)

    merged = [f for part in await asyncio.gather(*(of(s) for s in UPSTREAMS)) for f in part]
    own = [f.model_dump(mode="json") for f in CATALOGUE.served(gateway.settings.retention_days)]
    return _answer([*merged, *own])


HANDLERS = {
    "/api/v1/data-declarations": data_declarations,
    "/api/v1/audit-records/gateway": audit_records,
}
