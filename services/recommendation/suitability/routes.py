from fastapi import APIRouter, Request

from services.kit.db import SessionDep
from services.kit.identity import ActorDep
from services.kit.params import CustomerId, PathId
from services.kit.problems import PROBLEM_RESPONSES, NotFound
from services.recommendation.access import CUSTOMER_OR_MANAGER, own_customer, require_role
from services.recommendation.proof.models import SuitabilityCheck
from services.recommendation.proof.replay import replay_check
from services.recommendation.rules import RULES_BY_ID
from services.recommendation.suitability import service
from services.recommendation.suitability.schemas import CheckIn, CheckOut, ReplayOut

router = APIRouter(
    prefix="/api/v1/customers/{customer_id}/suitability-checks", responses=PROBLEM_RESPONSES, tags=["suitability"]
)


def _out(check: SuitabilityCheck, warning: str | None = None) -> CheckOut:
    verdict = check.verdict
    return CheckOut(
        id=check.id,
        customer_id=check.customer_id,
        product_code=check.product_code,
        product_version=check.product_version,
        amount=check.amount,
        result=check.result,
        findings=[{**f, "rule": RULES_BY_ID[f["rule_id"]].sentence} for f in verdict["findings"]],
        overridable=verdict["overridable"],
        warning={"text": warning, "sha256": service.sha256(warning)} if warning else None,
        overridden=check.overridden,
        cooling_off_until=check.cooling_off_until,
        follow_up_tasks=[{"kind": "elderly_or_vulnerable_follow_up", "due_on": check.follow_up_due_on}]
        if check.follow_up_due_on
        else [],
        ruleset_version=check.ruleset_version,
        questionnaire_version=check.questionnaire_version,
        assessment_id=check.assessment_id,
        decided_at=check.decided_at,
    )


@router.post("", response_model=CheckOut, status_code=201)
async def check(
    customer_id: CustomerId, body: CheckIn, session: SessionDep, actor: ActorDep, request: Request
) -> CheckOut:
    """Judge a proposed sale: pass, warn or block, with every rule that fired and why. Blocked
    only by the customer's own level, the customer may insist: send `override` with the SHA-256 of
    the returned `warning` once they acknowledged it."""
    require_role(actor, CUSTOMER_OR_MANAGER, "check a proposed sale")
    own_customer(actor, customer_id)
    async with session.begin():
        record, _, warning = await service.check(session, request.app.state.settings, customer_id, body, actor)
    return _out(record, warning)


async def _stored(session, customer_id: str, check_id: str) -> SuitabilityCheck:
    check = await session.get(SuitabilityCheck, check_id)
    if check is None or check.customer_id != customer_id:
        raise NotFound("No suitability check of this customer has this id.")
    return check


@router.get("/{check_id}", response_model=CheckOut)
async def stored_check(customer_id: CustomerId, check_id: PathId, session: SessionDep, actor: ActorDep) -> CheckOut:
    own_customer(actor, customer_id)
    return _out(await _stored(session, customer_id, check_id))


@router.get("/{check_id}/replay", response_model=ReplayOut)
async def replay(customer_id: CustomerId, check_id: PathId, session: SessionDep, actor: ActorDep) -> ReplayOut:
    """Run the stored inputs through the rules again: the proof gives the same answer."""
    own_customer(actor, customer_id)
    check = await _stored(session, customer_id, check_id)
    replayed = replay_check(check)
    return ReplayOut(id=check.id, same=replayed == check.verdict, stored=check.verdict, replayed=replayed)
