"""Events the consent service consumes."""

from sqlalchemy.ext.asyncio import AsyncSession

from events.consumer import Handler
from events.contracts import CustomerErasedV1
from events.contracts.envelope import Envelope
from services.consent import service
from services.consent.models import known_customers
from services.consent.settings import ConsentSettings
from services.kit import crypto
from services.kit.identity import Actor


def on_customer_erased(settings: ConsentSettings) -> Handler:
    """`customer.erased`: close the customer's consents and pseudonymise them (R2.2, R2.4)."""
    key = crypto.decode_key(settings.pseudonym_key)

    async def handle(session: AsyncSession, envelope: Envelope, payload: CustomerErasedV1) -> None:
        await known_customers.erased(session, payload.customer_id, payload.erased_at)
        actor = Actor(envelope.source, "system", None, "customer erased")
        await service.erase_customer(
            session, payload.customer_id, pseudonym_id=service.pseudonym(key, payload.customer_id), actor=actor
        )

    return handle
