"""Key rotation for every component that encrypts: re-encrypt every column the data catalogue
declares `encrypted` whose value is sealed under a key other than the active one, in small
batches, each its own short transaction, while the service keeps running.

Run after adding the new key to <PREFIX>_ENCRYPTION_KEYS and making it <PREFIX>_ACTIVE_KEY_ID
(every replica first, so new writes use it); remove the old key once this reports 0 left.
A table with a `key_id` column gets it set to the active key too.
"""

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from services.kit import crypto, db
from services.kit.catalogue import Catalogue


def _stale(column: sa.Column, active_key_id: str):
    """The stored value (ciphertext, `<key id>:...`) is not sealed under the active key."""
    raw = sa.type_coerce(column, sa.Text())
    return sa.and_(raw.is_not(None), sa.not_(raw.startswith(f"{active_key_id}:", autoescape=True)))


async def rotate_table(
    engine: AsyncEngine, table: sa.Table, fields: list[str], keys: crypto.KeyRing, batch_size: int
) -> int:
    (key,) = table.primary_key.columns
    raw = [sa.type_coerce(table.c[name], sa.Text()).label(name) for name in fields]
    rotated = 0
    while True:
        async with engine.begin() as connection:
            query = (
                sa.select(key, *raw)
                .where(sa.or_(*(_stale(table.c[name], keys.active_key_id) for name in fields)))
                .limit(batch_size)
            )
            if engine.dialect.name == "postgresql":
                # A row being edited right now is skipped and picked up by the next batch.
                query = query.with_for_update(skip_locked=True)
            rows = (await connection.execute(query)).all()
            if not rows:
                return rotated
            for row in rows:
                values: dict[str, object] = {}
                for name in fields:
                    stored = getattr(row, name)
                    if stored is not None:
                        values[name] = sa.type_coerce(
                            keys.encrypt(keys.decrypt(stored, field=name), field=name), sa.Text()
                        )
                if "key_id" in table.c:
                    values["key_id"] = keys.active_key_id
                await connection.execute(sa.update(table).where(key == row[0]).values(**values))
            rotated += len(rows)


async def rotate(
    engine: AsyncEngine, metadata: sa.MetaData, catalogue: Catalogue, keys: crypto.KeyRing, batch_size: int = 500
) -> dict[str, int]:
    """Rows re-encrypted per table, for every table with a declared encrypted field."""
    done = {}
    for name in catalogue.tables:
        fields = catalogue.encrypted(name)
        if fields and name in metadata.tables:
            done[name] = await rotate_table(engine, metadata.tables[name], fields, keys, batch_size)
    return done


async def rotate_component(spec, batch_size: int = 500) -> dict[str, int]:
    """`rotate` for one component's ServiceSpec, on its configured database and keys."""
    keys = spec.settings.keyring()
    crypto.install(keys)
    engine = db.create_engine(spec.settings.database_url)
    try:
        return await rotate(engine, spec.metadata, spec.catalogue, keys, batch_size)
    finally:
        await engine.dispose()
