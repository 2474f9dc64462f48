from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request

from services.kit.clock import now
from services.kit.db import SessionDep
from services.kit.identity import ActorDep
from services.kit.params import CustomerId, PathId
from services.kit.problems import PROBLEM_RESPONSES, Forbidden, NotFound
from services.recommendation.access import own_customer
from services.recommendation.proof.models import RecommendationList
from services.recommendation.proof.replay import replay_list
from services.recommendation.recommendations import service
from services.recommendation.recommendations.schemas import ListReplayOut, RecommendationsOut
from services.recommendation.rules import RULES_BY_ID

router = APIRouter(
    prefix="/api/v1/customers/{customer_id}/recommendations", responses=PROBLEM_RESPONSES, tags=["recommendations"]
)
# Advice asked for in service (allowed without a marketing consent, and recorded as such).
ADVISERS = frozenset({"relationship_manager"})


@router.get("", response_model=RecommendationsOut)
async def recommend(
    customer_id: CustomerId,
    session: SessionDep,
    actor: ActorDep,
    request: Request,
    mode: Annotated[
        Literal["proactive", "advice"],
        Query(
            description="`advice`: a relationship manager asks in service (no marketing consent needed, recorded as "
            "advice); `proactive`: only with an active marketing consent."
        ),
    ] = "proactive",
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> RecommendationsOut:
    """Suitable products ranked by fit, each pick with its reasons, each exclusion with the rules
    that excluded it; the list is stored with its proof and announced (`recommendation.made`)."""
    own_customer(actor, customer_id)
    if mode == "advice" and actor.role not in ADVISERS:
        raise Forbidden("Only a relationship manager asks for advice in service; use mode=proactive.")
    async with session.begin():
        stored, catalogue, known = await service.recommend(
            session, request.app.state.settings, customer_id, mode, actor, limit
        )
    level = known.assessment.risk_level if known.assessment else None
    valid_until = known.assessment.valid_until if known.assessment else None
    if stored is None:
        return RecommendationsOut(
            id=None,
            customer_id=customer_id,
            mode=mode,
            risk_level=level,
            assessment_valid_until=valid_until,
            made_at=now(),
            items=[],
            excluded=[],
            rules={},
            withheld=service.NO_CONSENT,
        )
    return RecommendationsOut(
        id=stored.id,
        customer_id=customer_id,
        mode=mode,
        risk_level=level,
        assessment_valid_until=valid_until,
        made_at=stored.made_at,
        items=[{**p, "product": catalogue[p["product_code"]]} for p in stored.picks],
        excluded=stored.exclusions,
        rules={
            rule_id: RULES_BY_ID[rule_id].sentence
            for rule_id in sorted({r for e in stored.exclusions for r in e["rule_ids"]})
        },
    )


@router.get("/{recommendation_id}/replay", response_model=ListReplayOut)
async def replay(
    customer_id: CustomerId, recommendation_id: PathId, session: SessionDep, actor: ActorDep
) -> ListReplayOut:
    """Rank again from the stored inputs and the catalogue as it then stood: the same list."""
    own_customer(actor, customer_id)
    stored = await session.get(RecommendationList, recommendation_id)
    if stored is None or stored.customer_id != customer_id:
        raise NotFound("No recommendation list of this customer has this id.")
    picks, exclusions = await replay_list(session, stored)
    return ListReplayOut(
        id=stored.id, same=(picks, exclusions) == (stored.picks, stored.exclusions), picks=picks, exclusions=exclusions
    )
