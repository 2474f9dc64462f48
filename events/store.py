"""The outbox and inbox tables each component keeps in its own database.

Outbox columns follow Debezium's outbox event router (`id, aggregatetype, aggregateid, type,
payload`), so a CDC connector can replace the relay without a schema change.
"""

import sqlalchemy as sa

_position = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # SQLite autoincrements INTEGER only


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
    sa.Index("ix_outbox_unsent", outbox.c.position, sqlite_where=outbox.c.sent_at.is_(None),
             postgresql_where=outbox.c.sent_at.is_(None))
    inbox = sa.Table("inbox", metadata, *_inbox_columns())
    return outbox, inbox


def create_messaging_tables(op) -> None:
    """For a component's first Alembic migration: create the outbox and inbox tables."""
    op.create_table("outbox", *_outbox_columns())
    op.create_index("ix_outbox_unsent", "outbox", ["position"], sqlite_where=sa.text("sent_at IS NULL"),
                    postgresql_where=sa.text("sent_at IS NULL"))
    op.create_table("inbox", *_inbox_columns())
