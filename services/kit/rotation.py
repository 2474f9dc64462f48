"""Key rotation for encrypted columns that keep no key-id column of their own: the key id is
the prefix of each stored value (services/kit/crypto.py), so values sealed under another key
than the active one are found by it, read, and written again (sealed under the active key).

Batches lock their rows and skip rows being edited (PostgreSQL); run until a batch finds none.
"""

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from services.kit import crypto


async def reseal_column(session: AsyncSession, column: InstrumentedAttribute, batch_size: int = 500) -> int:
    """One batch; returns how many values were re-encrypted."""
    keys = crypto.keyring()
    primary_key = sa.inspect(column.class_).primary_key[0]
    stored = sa.type_coerce(column, sa.Text())  # the sealed form, not decrypted
    query = (
        sa.select(primary_key, stored.label("sealed"))
        .where(column.is_not(None), sa.not_(stored.startswith(f"{keys.active_key_id}:", autoescape=True)))
        .limit(batch_size)
        .with_for_update(skip_locked=True)
    )
    rows = (await session.execute(query)).all()
    field = column.type.field
    for row in rows:
        plain = keys.decrypt(row.sealed, field=field)
        await session.execute(sa.update(column.class_).where(primary_key == row[0]).values({column.key: plain}))
    return len(rows)
