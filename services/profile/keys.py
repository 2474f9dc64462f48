"""Key rotation: re-encrypt every customer row still sealed under a key other than the active
one, in small batches, each its own short transaction, while the service keeps running.

Run after adding the new key to PROFILE_ENCRYPTION_KEYS and making it PROFILE_ACTIVE_KEY_ID
(every replica first, so new writes use it); remove the old key once this reports 0 left.
"""

import asyncio

import sqlalchemy as sa
from sqlalchemy.orm.attributes import flag_modified

from services.kit import crypto, db
from services.profile.documents import reseal_documents
from services.profile.declarations import FIELDS
from services.profile.models import Customer
from services.profile.screening.alerts import reseal_screening
from services.profile.settings import ProfileSettings

ENCRYPTED_FIELDS = tuple(field.name for field in FIELDS if field.encrypted)


async def rotate(settings: ProfileSettings, batch_size: int = 500) -> int:
    keys = settings.keyring()
    crypto.install(keys)
    engine = db.create_engine(settings.database_url)
    sessions = db.session_factory(engine)
    rotated = 0
    try:
        while True:
            async with sessions() as session, session.begin():
                query = sa.select(Customer).where(Customer.key_id != keys.active_key_id).limit(batch_size)
                if engine.dialect.name == "postgresql":
                    # Lock the batch so a concurrent update cannot be overwritten with stale values;
                    # rows being edited right now are skipped and picked up by the next batch.
                    query = query.with_for_update(skip_locked=True)
                batch = list(await session.scalars(query))
                if not batch:
                    break
                for customer in batch:
                    for field in ENCRYPTED_FIELDS:
                        flag_modified(customer, field)  # written again, hence sealed under the active key
                    customer.key_id = keys.active_key_id
                rotated += len(batch)
        # Identity document numbers and screening reasons, sealed under the same keys.
        for reseal in (reseal_documents, reseal_screening):
            while True:
                async with sessions() as session, session.begin():
                    resealed = await reseal(session, batch_size)
                if not resealed:
                    break
                rotated += resealed
        return rotated
    finally:
        await engine.dispose()


def main() -> None:
    rotated = asyncio.run(rotate(ProfileSettings()))
    print(f"profile: {rotated} customer rows re-encrypted under the active key")
