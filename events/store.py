"""The outbox and inbox tables each component keeps in its own database.

Outbox columns follow Debezium's outbox event router (`id, aggregatetype, aggregateid, type,
payload`), so a CDC connector can replace the relay without a schema change.
"""

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

_position = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # SQLite autoincrements INTEGER only


def upsert_insert(session: AsyncSession, table) -> postgresql.Insert | sqlite.Insert:
    """An INSERT into `table` (a Table or a mapped class) in the session's dialect, which has
    `on_conflict_do_nothing` and `on_conflict_do_update` (PostgreSQL and SQLite spell them alike)."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


def _outbox_columns() -> list[sa.Column]:
    return [
        # Commit order of the events; the relay publishes in this order.
        sa.Column("position", _position, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(36), nullable=False, unique=True),
        sa.Column("aggregatetype", sa.String(64), nullable=False),
        sa.Column("aggregateid", sa.String(64), nullable=False),
        sa.Column("type", sa.String(128), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
    ]


def _inbox_columns() -> list[sa.Column]:
    return [
        sa.Column("event_id", sa.String(36), primary_key=True),
        sa.Column("event_type", sa.String(128), nullable=False),
        sa.Column("handled_at", sa.DateTime(timezone=True), nullable=False),
    ]


def add_messaging_tables(metadata: sa.MetaData) -> tuple[sa.Table, sa.Table]:
    """Declare `outbox` and `inbox` in a component's metadata."""
    outbox = sa.Table("outbox", metadata, *_outbox_columns())
    sa.Index(
        "ix_outbox_unsent",
        outbox.c.position,
        sqlite_where=outbox.c.sent_at.is_(None),
        postgresql_where=outbox.c.sent_at.is_(None),
    )
    inbox = sa.Table("inbox", metadata, *_inbox_columns())
    return outbox, inbox


def create_messaging_tables(op) -> None:
    """For a component's first Alembic migration: create the outbox and inbox tables."""
    op.create_table("outbox", *_outbox_columns())
    op.create_index(
        "ix_outbox_unsent",
        "outbox",
        ["position"],
        sqlite_where=sa.text("sent_at IS NULL"),
        postgresql_where=sa.text("sent_at IS NULL"),
    )
    op.create_table("inbox", *_inbox_columns())


async def purge_messaging(
    engine, *, outbox: sa.Table | None, inbox: sa.Table | None, older_than, batch_size: int = 5000
) -> int:
    """Delete published outbox rows and inbox rows handled before `older_than`, a bounded batch
    of each. Safe once that is longer than the topics keep messages: no redelivery can then
    bring back an event whose inbox row is gone, and no relay needs a sent row."""
    purged = 0
    async with engine.begin() as connection:
        for table, moment_column, key in ((outbox, "sent_at", "position"), (inbox, "handled_at", "event_id")):
            if table is None:
                continue
            moment = table.c[moment_column]
            batch = sa.select(table.c[key]).where(moment.is_not(None), moment < older_than).limit(batch_size)
            result = await connection.execute(sa.delete(table).where(table.c[key].in_(batch)))
            purged += result.rowcount
    return purged
