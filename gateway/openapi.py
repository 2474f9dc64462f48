"""The gateway's OpenAPI document: the services' own documents, merged, limited to the routes
the policy exposes, with bearer authentication declared."""

import json
from collections import Counter

import structlog

from gateway import local
from gateway.policy import Policy
from gateway.settings import GatewaySettings
from gateway.upstream import Upstream, UpstreamError

log = structlog.get_logger(__name__)


async def merged_openapi(settings: GatewaySettings, policy: Policy, upstream: Upstream, credential: dict) -> dict:
    document: dict = {
        "openapi": "3.1.0",
        "info": {
            "title": "Bank CRM API",
            "version": "1.0.0",
            "description": "The single entry point for the bank's web and mobile front ends.",
        },
        "paths": {},
        "components": {
            "schemas": {},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
        "security": [{"bearer": []}],
    }
    unavailable = []
    for service in sorted({route.upstream for route in policy.routes} - {"gateway"}):
        try:
            answer = await upstream.request("GET", settings.upstream_url(service) + "/openapi.json", headers=credential, body=b"")
            source = json.loads(answer.body) if answer.status == 200 else None
        except UpstreamError:
            source = None
        if source is None:
            unavailable.append(service)
            continue
        schemas = document["components"]["schemas"]
        for name, schema in source.get("components", {}).get("schemas", {}).items():
            # One name, one schema: two services publishing different schemas under the same
            # name would make the merged document describe one of them wrongly.
            if name in schemas and schemas[name] != schema:
                log.error("openapi_schema_name_clash", schema=name, service=service)
            schemas[name] = schemas.get(name, schema)
        for route in policy.routes:
            if route.upstream != service:
                continue
            operation = source.get("paths", {}).get(route.upstream_path or route.path, {}).get(route.method.lower())
            if operation is not None:
                operation = {**operation, "x-roles": route.roles}
                if route.upstream_path and route.upstream_path != route.path and "operationId" in operation:
                    # Another service's operation under this path (e.g. its audit records): the
                    # same upstream operationId would be used twice in the merged document.
                    operation["operationId"] = f"{operation['operationId']}_{route.upstream}"
                if route.token_bearer:  # no login: the body carries the credential
                    operation = {**operation, "security": [], "x-rate-limit-per-minute": route.token_bearer.per_minute}
                if route.partner_share:
                    operation = {
                        **operation,
                        # The upstream operation is the customer read; this is another operation.
                        "operationId": "partner_read_shared_customer_data",
                        "summary": "A customer's data as shared with a partner",
                        "description": "Only the categories the customer consented to for the calling partner "
                        "and `purpose`, without identifying fields; the customer appears as a per-partner "
                        "pseudonym (`subject`).",
                        "parameters": [*operation.get("parameters", []), {
                            "name": "purpose", "in": "query", "required": True, "schema": {"type": "string"},
                        }],
                        "responses": {"200": {"description": "`{subject, purpose, categories, data}`"}},
                    }
                document["paths"].setdefault(route.path, {})[route.method.lower()] = operation
    for route in policy.routes:
        if route.upstream == "gateway":  # answered by the gateway itself (gateway/local.py)
            handler = local.HANDLERS[route.path]
            document["paths"].setdefault(route.path, {})[route.method.lower()] = {
                "operationId": f"gateway_{handler.__name__}",
                "summary": (handler.__doc__ or "").split("\n")[0], "x-roles": route.roles,
                "responses": {"200": {"description": "OK"}},
            }
    _declare_masked_values(document["components"]["schemas"], policy)
    _unique_titles(document["components"]["schemas"])
    if unavailable:
        document["info"]["x-unavailable-services"] = unavailable
    operation_ids = [op.get("operationId") for item in document["paths"].values() for op in item.values()]
    duplicates = sorted({i for i in operation_ids if i and operation_ids.count(i) > 1})
    if duplicates:  # a generated client would merge or drop them
        raise ValueError(f"operationIds used twice in the merged document: {duplicates}")
    return document


def _unique_titles(schemas: dict) -> None:
    """Client generators name a model after its schema's title: two models of one name (FastAPI
    then qualifies their keys, e.g. `services__profile__segments__ReviewOut`) take their key."""
    titles = Counter(schema.get("title") for schema in schemas.values())
    for name, schema in schemas.items():
        if titles[schema.get("title")] > 1:
            schema["title"] = name


def _declare_masked_values(schemas: dict, policy: Policy) -> None:
    """What a masked field looks like, in the published schema: a field masked as null is
    nullable; a partly masked string keeps its type but not its format or pattern."""
    for schema in schemas.values():
        for name, prop in schema.get("properties", {}).items():
            rule = policy.masking.fields.get(name)
            if rule is None:
                continue
            note = "Masked for roles that may not see it in clear (gateway/policy.yaml)."
            if rule.as_null:
                schema["properties"][name] = {"anyOf": [prop, {"type": "null"}], "description": note}
            elif prop.get("type") == "string":
                schema["properties"][name] = {
                    **{k: v for k, v in prop.items() if k not in ("format", "pattern", "minLength", "maxLength")},
                    "description": note,
                }
