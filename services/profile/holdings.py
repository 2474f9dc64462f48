"""The customer's products as core banking reports them (R1.1): `corebanking.product_opened` and
`_closed` keep one row per holding, and the customer's `product_holdings` (the number held, one
input of the tier) follows the holdings open, with the tier, history, events and audit any
change of the record has (service.update).

Each holding is kept as opened at / closed at, so an opening and a closing count once whichever
arrives first, and a closing reported twice counts once. Once core banking reports a customer's
products, their number is core banking's: staff cannot set it (service.update). Holdings of a
customer the platform does not know, or erased, are not kept."""

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from events.consumer import Handler
from events.contracts import CoreBankingProductClosedV1, CoreBankingProductOpenedV1
from events.contracts.envelope import Envelope
from services.kit.clock import now
from services.kit.identity import Actor
from services.profile import service
from services.profile.models import Customer, Holding
from services.profile.settings import ProfileSettings

CORE_BANKING = Actor("corebanking", "system", None, None)


async def held(session: AsyncSession, customer_id: str) -> int:
    """How many of the customer's holdings are open."""
    query = sa.select(sa.func.count()).where(
        Holding.customer_id == customer_id, Holding.opened_at.is_not(None), Holding.closed_at.is_(None)
    )
    return await session.scalar(query) or 0


def handlers(settings: ProfileSettings) -> dict[str, Handler]:
    async def on_holding(
        session: AsyncSession, envelope: Envelope, payload: CoreBankingProductOpenedV1 | CoreBankingProductClosedV1
    ) -> None:
        customer = await session.get(Customer, payload.customer_id, with_for_update=True)
        if customer is None or customer.erased_at is not None:
            return
        holding = await session.get(Holding, payload.holding_id, with_for_update=True)
        if holding is None:
            holding = Holding(holding_id=payload.holding_id, customer_id=customer.id, product_code=payload.product_code)
            session.add(holding)
        if isinstance(payload, CoreBankingProductOpenedV1):
            holding.opened_at = payload.opened_at
        elif holding.closed_at is None:
            holding.closed_at = payload.closed_at
        holding.updated_at = now()
        await session.flush()
        count = await held(session, customer.id)
        if count != customer.product_holdings:
            await service.update(session, customer, {"product_holdings": count}, CORE_BANKING, settings)

    return {"corebanking.product_opened": on_holding, "corebanking.product_closed": on_holding}
