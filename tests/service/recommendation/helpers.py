"""Facts fed to the recommendation service as the other services' events would bring them."""

import uuid
from datetime import UTC, datetime
from decimal import Decimal

from events.contracts import (
    ConsentGrantedV1,
    CoreBankingProductOpenedV1,
    CustomerCreatedV1,
    CustomerUpdatedV1,
    new_event,
)

# Answers scoring C4 (33 points): growth over more than five years, no near liquidity need.
C4_ANSWERS = {
    "legal_capacity": "yes",
    "loss_tolerance": "up_to_30",
    "experience": "funds",
    "income": "stable",
    "horizon": "over_5y",
    "liquidity": "not_soon",
    "goal": "growth",
    "vulnerability": "no",
}
# The most a customer can score: C5.
C5_ANSWERS = {**C4_ANSWERS, "loss_tolerance": "over_30", "experience": "equities", "income": "very_stable"}
C3_ANSWERS = {**C4_ANSWERS, "loss_tolerance": "up_to_15", "experience": "deposits"}
LOWEST_ANSWERS = {**C5_ANSWERS, "loss_tolerance": "none"}


async def known_customer(
    svc, *, assets: str = "250000.00", age_band: str | None = "40_64", marketing: bool = True
) -> str:
    customer_id = str(uuid.uuid4())
    await svc.deliver(
        new_event(
            "customer.created",
            CustomerCreatedV1(customer_id=customer_id, assets_under_management=Decimal(assets), age_band=age_band),
            source="profile",
        )
    )
    if marketing:
        await svc.deliver(
            new_event(
                "consent.granted",
                ConsentGrantedV1(
                    consent_id=str(uuid.uuid4()),
                    customer_id=customer_id,
                    recipient="bank-marketing",
                    purpose="marketing",
                    data_categories=["basic"],
                    expires_at=None,
                ),
                source="consent",
            )
        )
    return customer_id


async def customer_changed(svc, customer_id: str, *, assets: str, age_band: str | None, fields: list[str]) -> None:
    await svc.deliver(
        new_event(
            "customer.updated",
            CustomerUpdatedV1(
                customer_id=customer_id,
                assets_under_management=Decimal(assets),
                age_band=age_band,
                changed_fields=fields,
            ),
            source="profile",
        )
    )


async def opened(svc, customer_id: str, product_code: str, amount: str = "10000.00") -> str:
    holding_id = f"CB-{uuid.uuid4().hex[:12]}"
    await svc.deliver(
        new_event(
            "corebanking.product_opened",
            CoreBankingProductOpenedV1(
                customer_id=customer_id,
                holding_id=holding_id,
                product_code=product_code,
                amount=Decimal(amount),
                opened_at=datetime.now(UTC),
            ),
            source="corebanking",
        )
    )
    return holding_id


async def assess(svc, customer_id: str, answers: dict, *, role: str = "customer", subject: str | None = None):
    async with svc.client(role, subject or customer_id) as http:
        return await http.post(
            f"/api/v1/customers/{customer_id}/risk-assessments",
            json={"questionnaire_version": "2026.1", "answers": answers},
        )


async def new_product(svc, code: str | None = None, **fields) -> dict:
    body = {
        "code": code or f"T-{uuid.uuid4().hex[:10].upper()}",
        "title": "Test product",
        "product_type": "fund",
        "risk_level": "R3",
        "description": "A product made by a test.",
        "horizon_years": 3,
        "liquidity_days": 3,
        "min_amount": "1000.00",
        **fields,
    }
    async with svc.client("product_manager", "pm-1") as http:
        answer = await http.post("/api/v1/products", json=body)
    assert answer.status_code == 201, answer.text
    return answer.json()
