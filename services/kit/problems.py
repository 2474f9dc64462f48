"""RFC 9457 problem details: one error base class and one set of handlers for every component."""

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.kit.crypto import UndecryptableValue

PROBLEM_MEDIA_TYPE = "application/problem+json"
log = structlog.get_logger(__name__)


class Problem(Exception):
    """Raise from anywhere in a request to answer with a problem+json body.

    `detail` is read by people: say what was wrong and what to do, without personal data.
    """

    status = 400
    title = "Bad request"
    type = "about:blank"

    def __init__(self, detail: str, *, status: int | None = None, title: str | None = None, **extensions: Any):
        super().__init__(detail)
        self.detail = detail
        if status is not None:
            self.status = status
        if title is not None:
            self.title = title
        self.extensions = extensions
        # Response headers the answer needs (e.g. Retry-After on a 429).
        self.headers: dict[str, str] = {}


class NotFound(Problem):
    status = 404
    title = "Not found"


class Conflict(Problem):
    status = 409
    title = "Conflict"


class Forbidden(Problem):
    status = 403
    title = "Forbidden"


class Unauthorized(Problem):
    status = 401
    title = "Unauthorized"


class RequestTimeout(Problem):
    status = 408
    title = "Request timeout"


class Gone(Problem):
    status = 410
    title = "Gone"


class PreconditionFailed(Problem):
    status = 412
    title = "Precondition failed"


class PayloadTooLarge(Problem):
    status = 413
    title = "Payload too large"


class TooManyRequests(Problem):
    status = 429
    title = "Too many requests"


class BadGateway(Problem):
    status = 502
    title = "Bad gateway"


class GatewayTimeout(Problem):
    status = 504
    title = "Gateway timeout"


class AuditUnavailable(Problem):
    """An access to customer data could not be recorded: no record, no answer."""

    status = 503
    title = "Audit unavailable"

    def __init__(self, detail: str = "The access could not be recorded, so no customer data is released; retry later."):
        super().__init__(detail)


class ProblemBody(BaseModel):
    """Schema of every error body, for the OpenAPI documents."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[dict[str, Any]] | None = None


def problem_response(
    request: Request,
    *,
    status: int,
    title: str,
    detail: str | None = None,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> JSONResponse:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body["instance"] = request.url.path
    body.update({k: v for k, v in extensions.items() if v is not None})
    headers = {**({"WWW-Authenticate": "Bearer"} if status == 401 else {}), **(headers or {})}
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def _field_path(loc: tuple) -> str:
    # ("body", "risk_level") -> "risk_level"; ("query", "limit") -> "limit"
    parts = [str(p) for p in loc[1:]] if loc and loc[0] in ("body", "query", "path", "header") else list(map(str, loc))
    return ".".join(parts) or str(loc[0])


def _message(error: dict) -> str:
    if error["type"] == "extra_forbidden":
        return "Not a declared field of this resource; it cannot be stored (minimum necessary)."
    return error["msg"]


async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
    # Echo neither the rejected input nor pydantic's context: both may hold personal data.
    errors = [{"field": _field_path(tuple(e["loc"])), "message": _message(e)} for e in exc.errors()]
    fields = ", ".join(sorted({e["field"] for e in errors}))
    return problem_response(
        request, status=422, title="Invalid request", detail=f"Check these fields: {fields}.", errors=errors
    )


async def _problem(request: Request, exc: Problem) -> JSONResponse:
    return problem_response(
        request, status=exc.status, title=exc.title, detail=exc.detail, headers=exc.headers, **exc.extensions
    )


async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    titles = {404: "Not found", 405: "Method not allowed", 401: "Unauthorized", 403: "Forbidden"}
    return problem_response(
        request,
        status=exc.status_code,
        title=titles.get(exc.status_code, "Error"),
        detail=str(exc.detail),
        headers=dict(exc.headers or {}),  # e.g. Allow on a 405
    )


async def _undecryptable(request: Request, exc: Exception) -> JSONResponse:
    log.error("undecryptable_value", problem=str(exc))  # names fields and key ids, never values
    return problem_response(
        request,
        status=503,
        title="Data unavailable",
        detail="Stored data cannot be decrypted with the configured keys; operators have been alerted in the logs.",
    )


async def _database_error(request: Request, exc: DBAPIError) -> JSONResponse:
    if not exc.connection_invalidated:
        return await _unexpected(request, exc)
    # A pooled connection was found dead (no ping per checkout): SQLAlchemy has invalidated the
    # pool, so the next request gets a fresh connection. This one answers 503, once.
    log.warning("database_connection_lost", error_type=type(exc.orig).__name__)
    response = problem_response(
        request, status=503, title="Database connection lost", detail="The connection to the database was lost; retry."
    )
    response.headers["Retry-After"] = "1"
    return response


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled_error", error_type=type(exc).__name__)
    return problem_response(request, status=500, title="Internal error", detail="The error was logged; retry later.")


ExceptionT = TypeVar("ExceptionT", bound=Exception)


def _handle(
    app: FastAPI, exception: type[ExceptionT], handler: Callable[[Request, ExceptionT], Awaitable[JSONResponse]]
) -> None:
    """Starlette calls a handler only with instances of the class it is registered for, but
    types every handler as taking any exception: the cast states what the registration ensures."""
    app.add_exception_handler(exception, cast(Callable[[Request, Exception], Awaitable[JSONResponse]], handler))


def install_problem_handlers(app: FastAPI) -> None:
    _handle(app, RequestValidationError, _validation)
    _handle(app, Problem, _problem)
    _handle(app, StarletteHTTPException, _http)
    _handle(app, UndecryptableValue, _undecryptable)
    _handle(app, DBAPIError, _database_error)
    _handle(app, Exception, _unexpected)


# For route decorators: `responses=PROBLEM_RESPONSES` documents the error shape.
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ProblemBody, "content": {PROBLEM_MEDIA_TYPE: {}}} for code in (400, 404, 409, 422)
}
