"""The operators' dashboard at /dashboard: one page and its assets, all served by the gateway.

The page holds no data. It signs in with a bearer token and reads the KPI routes through the
gateway's API, so the same policy decides what each role sees: a relationship manager's figures
cover their own portfolio, drill-down lists arrive masked per role. Every asset (script, chart
library, styles) is served from here: bank networks have no internet.
"""

from pathlib import Path
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field

from gateway.auth import sign_token
from services.kit.problems import NotFound

HERE = Path(__file__).parent
KPI_PREFIX = "/api/v1/kpis/"
DEV_ROLES = Literal["relationship_manager", "service_agent", "compliance_officer", "marketing_analyst", "admin"]


class DevSignIn(BaseModel):
    role: DEV_ROLES
    subject: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._-]+$")


def dashboard_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/dashboard")
    async def page() -> FileResponse:
        return FileResponse(HERE / "page.html", media_type="text/html; charset=utf-8")

    @router.get("/dashboard/areas")
    async def areas(request: Request) -> list[dict]:
        """The KPI routes the caller's role may read, by the same policy as the API, each with the
        bank's targets for its KPIs (GATEWAY_KPI_TARGETS)."""
        gateway = request.app.state.gateway
        caller = await gateway.verifier.verify(request.headers.get("authorization"))
        targets = gateway.settings.kpi_targets
        areas = []
        for route in gateway.policy.routes:
            if route.method == "GET" and route.path.startswith(KPI_PREFIX) and caller.role in route.roles:
                name = route.path.rsplit("/", 1)[-1]
                area_targets = {kpi: target.model_dump() for kpi, target in targets.get(name, {}).items()}
                areas.append({"name": name, "path": route.path, "targets": area_targets})
        return areas

    @router.post("/dashboard/dev-sign-in")
    async def dev_sign_in(body: DevSignIn, request: Request) -> dict[str, str]:
        """Development only: a short-lived token signed with the local development key."""
        settings = request.app.state.settings
        if settings.environment != "development":
            raise NotFound("Signing in with a local token exists only in development.")
        token = sign_token(settings.jwt_private_key_file, role=body.role, subject=body.subject, ttl_seconds=3600)
        return {"token": token}

    return router


def mount_assets(app) -> None:
    app.mount("/dashboard/static", StaticFiles(directory=HERE / "static"), name="dashboard-static")
