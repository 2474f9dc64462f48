from fastapi import APIRouter, Request

from services.feedback.kpis import service
from services.kit.db import SessionDep
from services.kit.identity import ActorDep
from services.kit.kpi import KpiReport, KpiWindow, kpi_query
from services.kit.problems import PROBLEM_RESPONSES

router = APIRouter(prefix="/api/v1", tags=["kpis"], responses=PROBLEM_RESPONSES)


@router.get("/kpis/service", response_model=KpiReport)
async def service_kpis(
    session: SessionDep, actor: ActorDep, request: Request, window: KpiWindow = kpi_query(*service.BREAKDOWNS)
) -> KpiReport:
    """CSAT (share of 4-5 answers), NPS (promoters minus detractors, -100 to 100), CES (mean,
    1 easy to 7 hard), complaint rate per 1,000 customers, SLA breach rate, mean hours to first
    answer and to resolve, closed-loop rate (detractors' follow-ups closed in time), reopen rate.
    Cases count in the window they were opened in, answers in the one they arrived in. A
    relationship manager's figures cover the customers of their portfolio only."""
    portfolio_scoped = actor.role in request.app.state.settings.assigned_only_roles
    async with session.begin():
        return await service.report(session, window, manager=actor.id if portfolio_scoped else None)
