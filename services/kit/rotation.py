"""Key rotation for every component that encrypts, while the service keeps running, in small
batches, each its own short transaction:

- re-encrypt every column the data catalogue declares `encrypted` whose value is sealed under a
  key other than the active one. Run after adding the new key to <PREFIX>_ENCRYPTION_KEYS and
  making it <PREFIX>_ACTIVE_KEY_ID (every replica first, so new writes use it); remove the old
  key once this reports 0 left. A table with a `key_id` column gets it set to the active key too.
- re-index every blind index (a column the catalogue declares `blind_index_of` a field) whose
  hash is not the field's under the current blind-index key. Run after setting the new key as
  <PREFIX>_BLIND_INDEX_KEY and the old one in <PREFIX>_PREVIOUS_BLIND_INDEX_KEYS (every replica
  first: look-ups match either meanwhile); drop the previous key once this reports 0 left.
"""

from collections.abc import Callable, Iterator
from typing import Any

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


async def reindex_table(
    engine: AsyncEngine,
    table: sa.Table,
    indexes: dict[str, str],
    encrypted: set[str],
    keys: crypto.KeyRing,
    batch_size: int,
) -> int:
    """Rows whose blind indexes (`indexes`: index column -> the field it hashes) were re-computed
    under the current key. Every row is read once, in primary-key order; a row is written only
    if one of its hashes changes, and only if its fields are still what was read (a row an
    edit changed meanwhile already has its new hashes under the current key)."""
    (key,) = table.primary_key.columns
    sources = sorted(set(indexes.values()))
    raw = {name: sa.type_coerce(table.c[name], sa.Text()) for name in sources}
    reindexed, after = 0, None
    while True:
        async with engine.begin() as connection:
            query = sa.select(key, *(raw[n].label(n) for n in sources), *(table.c[i] for i in indexes))
            if after is not None:
                query = query.where(key > after)
            rows = (await connection.execute(query.order_by(key).limit(batch_size))).all()
            if not rows:
                return reindexed
            for row in rows:
                values = {}
                for index, source in indexes.items():
                    stored = getattr(row, source)
                    if stored is None:
                        continue
                    value = keys.decrypt(stored, field=source) if source in encrypted else stored
                    current = keys.blind_index(value, field=source)
                    if getattr(row, index) != current:
                        values[index] = current
                if values:
                    unchanged = [raw[n] == getattr(row, n) for n in sources if getattr(row, n) is not None]
                    result = await connection.execute(
                        sa.update(table).where(key == row[0], *unchanged).values(**values)
                    )
                    reindexed += result.rowcount
            after = rows[-1][0]


def _declared(
    metadata: sa.MetaData, catalogue: Catalogue, pick: Callable[[str], Any]
) -> Iterator[tuple[sa.Table, Any]]:
    """Each table of `metadata` for which the catalogue declares something (`pick(table name)`)."""
    for name in catalogue.tables:
        declared = pick(name)
        if declared and name in metadata.tables:
            yield metadata.tables[name], declared


async def rotate(
    engine: AsyncEngine, metadata: sa.MetaData, catalogue: Catalogue, keys: crypto.KeyRing, batch_size: int = 500
) -> dict[str, int]:
    """Rows re-encrypted per table, for every table with a declared encrypted field."""
    return {
        table.name: await rotate_table(engine, table, fields, keys, batch_size)
        for table, fields in _declared(metadata, catalogue, catalogue.encrypted)
    }


async def reindex(
    engine: AsyncEngine, metadata: sa.MetaData, catalogue: Catalogue, keys: crypto.KeyRing, batch_size: int = 500
) -> dict[str, int]:
    """Rows re-indexed per table, for every table with a declared blind index."""
    return {
        table.name: await reindex_table(engine, table, indexes, set(catalogue.encrypted(table.name)), keys, batch_size)
        for table, indexes in _declared(metadata, catalogue, catalogue.blind_indexes)
    }


async def rotate_component(spec, batch_size: int = 500) -> tuple[dict[str, int], dict[str, int]]:
    """`rotate` and then `reindex` for one component's ServiceSpec, on its configured database
    and keys: rows re-encrypted and rows re-indexed, per table."""
    keys = spec.settings.keyring()
    crypto.install(keys)
    engine = db.create_engine(spec.settings.database_url)
    try:
        rotated = await rotate(engine, spec.metadata, spec.catalogue, keys, batch_size)
        return rotated, await reindex(engine, spec.metadata, spec.catalogue, keys, batch_size)
    finally:
        await engine.dispose()
