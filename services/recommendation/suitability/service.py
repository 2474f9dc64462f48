"""Suitability checks of proposed sales (with the override flow), and re-matching of holders
and open recommendations when a product is re-rated or a customer re-assessed."""

import hashlib
import uuid
from datetime import timedelta
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from events.contracts import SuitabilityMismatchDetectedV1
from services.kit.clock import now
from services.kit.identity import Actor
from services.kit.problems import Problem
from services.recommendation import facts
from services.recommendation.base import audit, outbox
from services.recommendation.holdings.models import Holding
from services.recommendation.products import service as products
from services.recommendation.products.models import Product
from services.recommendation.proof import codec
from services.recommendation.proof.models import RecommendationItem, SuitabilityCheck, SuitabilityMismatch
from services.recommendation.rules import RULESET_VERSION, Proposal, Verdict, evaluate
from services.recommendation.settings import RecommendationSettings
from services.recommendation.suitability.schemas import CheckIn


class OverrideRefused(Problem):
    status = 422
    title = "Override refused"


def warning_text(customer_level: int, product: Product) -> str:
    """The specific written warning a customer acknowledges to insist on a product above their level."""
    return (
        f"Warning: your risk assessment allows products up to R{customer_level}. {product.code} "
        f"(version {product.version}) is rated {product.risk_level}, above your level: you may lose part or all of "
        f"the money invested, and the bank has advised you that it does not suit you. You buy it at your own "
        f"insistence."
    )


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


async def check(
    session: AsyncSession, settings: RecommendationSettings, customer_id: str, body: CheckIn, actor: Actor
) -> tuple[SuitabilityCheck, Verdict, str | None]:
    """Judge the proposal, store the decision with its inputs; returns it, the verdict and the
    warning text when the customer may insist."""
    product = await products.get(session, body.product_code)
    known = await facts.customer(session, customer_id, known_only=True)
    holdings = (await facts.holdings(session, [customer_id]))[customer_id]
    product_facts = facts.product_facts(product)
    warning = warning_text(known.facts.risk_level, product) if known.facts.risk_level else None
    acknowledged = False
    if body.override is not None:
        if known.facts.lowest_category:
            raise OverrideRefused("A customer in the lowest category cannot insist on anything above R1.")
        if warning is None or known.facts.risk_level is None or product_facts.risk_level <= known.facts.risk_level:
            raise OverrideRefused("There is nothing to insist on: the product is not above a valid assessed level.")
        if body.override.acknowledged_warning_sha256 != sha256(warning):
            raise OverrideRefused(
                "The customer must first acknowledge the written warning: show them `warning.text` and send its "
                "SHA-256 as `override.acknowledged_warning_sha256`.",
                warning={"text": warning, "sha256": sha256(warning)},
            )
        acknowledged = True
    limits = settings.limits()
    proposal = Proposal(known.facts, product_facts, body.amount, holdings, "sale", acknowledged)
    verdict = evaluate(proposal, limits)
    moment = now()
    record = SuitabilityCheck(
        id=str(uuid.uuid4()),
        customer_id=customer_id,
        product_code=product.code,
        product_version=product.version,
        product_risk_level=product.risk_level,
        customer_risk_level=known.assessment.risk_level if known.assessment else None,
        amount=body.amount,
        result=verdict.result,
        rule_ids=",".join(verdict.rule_ids),
        verdict=verdict.as_dict(),
        inputs={
            "customer": codec.dump(known.facts),
            "product": codec.dump(product_facts),
            "amount": str(body.amount),
            "holdings": [codec.dump(h) for h in holdings],
            "limits": codec.dump_limits(limits),
            "override_acknowledged": acknowledged,
        },
        ruleset_version=RULESET_VERSION,
        questionnaire_version=known.assessment.questionnaire_version if known.assessment else None,
        assessment_id=known.assessment.id if known.assessment else None,
        customer_as_of=known.customer.last_event_time if known.customer else None,
        overridden=verdict.overridden,
        warning_hash=sha256(warning) if verdict.overridden and warning is not None else None,
        cooling_off_until=moment + timedelta(hours=verdict.cooling_off_hours) if verdict.cooling_off_hours else None,
        follow_up_due_on=(moment + timedelta(days=verdict.follow_up_days)).date() if verdict.follow_up_days else None,
        decided_by=actor.id,
        decided_by_role=actor.role,
        decided_at=moment,
    )
    session.add(record)
    await audit.record(
        session,
        actor=actor.id,
        role=actor.role,
        action="suitability_check",
        customer_id=customer_id,
        fields=["risk_assessment", "holdings"],
        reason=actor.reason,
        outcome=verdict.result,
    )
    return record, verdict, warning if verdict.overridable else None


async def rematch_product(
    session: AsyncSession, settings: RecommendationSettings, product: Product, cause: str = "product_rerated"
) -> tuple[int, int, int]:
    """Re-judge every open holding and open recommendation of `product` at once; each that now
    breaks a hard rule is recorded and announced to the relationship managers. Returns
    (holdings checked, recommendations checked, mismatches)."""
    held = (
        await session.execute(
            sa.select(Holding.holding_id, Holding.customer_id).where(
                Holding.product_code == product.code, Holding.closed_at.is_(None)
            )
        )
    ).all()
    recommended = (
        await session.execute(
            sa.select(RecommendationItem.recommendation_id, RecommendationItem.customer_id).where(
                RecommendationItem.product_code == product.code, RecommendationItem.open
            )
        )
    ).all()
    customer_ids = [row.customer_id for row in held] + [row.customer_id for row in recommended]
    known = await facts.customers(session, customer_ids)
    holdings = await facts.holdings(session, customer_ids)
    product_facts = facts.product_facts(product)
    limits = settings.limits()
    mismatches: list[dict] = []
    closed: list[str] = []
    for row in held:
        verdict = evaluate(
            Proposal(known[row.customer_id].facts, product_facts, Decimal(0), holdings[row.customer_id], "holding"),
            limits,
        )
        if verdict.result == "block":
            mismatches.append(
                _mismatch(row.customer_id, product, known[row.customer_id], verdict, cause, holding_id=row.holding_id)
            )
    for row in recommended:
        verdict = evaluate(
            Proposal(
                known[row.customer_id].facts,
                product_facts,
                product.min_amount,
                holdings[row.customer_id],
                "recommendation",
            ),
            limits,
        )
        if verdict.result == "block":
            closed.append(row.recommendation_id)
            mismatches.append(
                _mismatch(
                    row.customer_id,
                    product,
                    known[row.customer_id],
                    verdict,
                    cause,
                    recommendation_id=row.recommendation_id,
                )
            )
    await record_mismatches(session, mismatches)
    if closed:
        await session.execute(
            sa.update(RecommendationItem)
            .where(RecommendationItem.product_code == product.code, RecommendationItem.recommendation_id.in_(closed))
            .values(open=False)
        )
    return len(held), len(recommended), len(mismatches)


def _mismatch(customer_id, product, known, verdict: Verdict, cause, *, holding_id=None, recommendation_id=None) -> dict:
    return {
        "customer_id": customer_id,
        "product_code": product.code,
        "product_risk_level": product.risk_level,
        "customer_risk_level": known.assessment.risk_level if known.assessment else None,
        "holding_id": holding_id,
        "recommendation_id": recommendation_id,
        "rule_ids": [f.rule_id for f in verdict.findings if f.effect == "block"],
        "cause": cause,
    }


async def record_mismatches(session: AsyncSession, mismatches: list[dict]) -> None:
    if not mismatches:
        return
    moment = now()
    await session.execute(
        SuitabilityMismatch.__table__.insert(),
        [{**m, "rule_ids": ",".join(m["rule_ids"]), "detected_at": moment} for m in mismatches],
    )
    await outbox.emit_many(
        session, [("suitability.mismatch_detected", SuitabilityMismatchDetectedV1(**m)) for m in mismatches]
    )


async def rematch_customer(session: AsyncSession, settings: RecommendationSettings, customer_id: str) -> int:
    """After a new assessment: every open holding of the customer judged against it."""
    known = (await facts.customers(session, [customer_id]))[customer_id]
    holdings = (await facts.holdings(session, [customer_id]))[customer_id]
    rows = (
        await session.execute(
            sa.select(Holding.holding_id, Product)
            .join(Product, Product.code == Holding.product_code)
            .where(Holding.customer_id == customer_id, Holding.closed_at.is_(None))
        )
    ).all()
    limits = settings.limits()
    mismatches = []
    for holding_id, product in rows:
        verdict = evaluate(Proposal(known.facts, facts.product_facts(product), Decimal(0), holdings, "holding"), limits)
        if verdict.result == "block":
            mismatches.append(
                _mismatch(customer_id, product, known, verdict, "assessment_changed", holding_id=holding_id)
            )
    await record_mismatches(session, mismatches)
    return len(mismatches)
