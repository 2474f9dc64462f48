"""consents granted, revoked and ended per day and month and breakdown, kept by triggers; expiries indexed

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

KEY = "purpose, recipient_type, channel"


def _add(source: str, day, table: str = "consent_days", period: str = "day") -> str:
    """Add each row of `source` (columns sign, granted_at, revoked_at, expires_at and the breakdown)
    to its periods (`day` gives a moment's): +sign granted in the grant's, revoked in the revocation's,
    ended in that where it stopped being active, the later of its grant and its first revocation or
    expiry (services/consent/kpis.py, `_ended_at`). Groups whose sums are all zero (an update that
    moved nothing) write nothing."""
    stop = "CASE WHEN c.revoked_at IS NULL THEN c.expires_at WHEN c.expires_at IS NULL THEN c.revoked_at "
    stop += "WHEN c.revoked_at < c.expires_at THEN c.revoked_at ELSE c.expires_at END"
    ended = f"CASE WHEN c.granted_at IS NULL OR ({stop}) IS NULL THEN NULL WHEN ({stop}) > c.granted_at "
    ended += f"THEN ({stop}) ELSE c.granted_at END"
    return f"""
        INSERT INTO {table} ({period}, {KEY}, granted, revoked, ended)
        SELECT v.day, {KEY}, sum(v.granted), sum(v.revoked), sum(v.ended)
        FROM (
            SELECT {day("c.granted_at")} AS day, {KEY}, c.sign AS granted, 0 AS revoked, 0 AS ended
            FROM ({source}) c WHERE c.granted_at IS NOT NULL
            UNION ALL
            SELECT {day("c.revoked_at")}, {KEY}, 0, c.sign, 0 FROM ({source}) c WHERE c.revoked_at IS NOT NULL
            UNION ALL
            SELECT {day(ended)}, {KEY}, 0, 0, c.sign FROM ({source}) c WHERE ({ended}) IS NOT NULL
        ) v
        WHERE true
        GROUP BY v.day, {KEY}
        HAVING sum(v.granted) <> 0 OR sum(v.revoked) <> 0 OR sum(v.ended) <> 0
        ORDER BY v.day, {KEY}
        ON CONFLICT ({period}, {KEY}) DO UPDATE SET granted = {table}.granted + excluded.granted,
            revoked = {table}.revoked + excluded.revoked, ended = {table}.ended + excluded.ended"""


def _both(source: str, day, month) -> str:
    return f"{_add(source, day)}; {_add(source, month, 'consent_months', 'month')}"


def _pg_day(column: str) -> str:
    return f"(({column}) AT TIME ZONE 'UTC')::date"


def _pg_month(column: str) -> str:
    return f"date_trunc('month', ({column}) AT TIME ZONE 'UTC')::date"


def _sqlite_day(column: str) -> str:
    return f"date({column})"


def _sqlite_month(column: str) -> str:
    return f"date({column}, 'start of month')"


COLUMNS = f"granted_at, revoked_at, expires_at, {KEY}"
# Every write to consents, whoever makes it (grant, approval, revocation, erasure, retention),
# moves the days in the same transaction: once per statement on PostgreSQL (transition tables),
# once per row on SQLite.
PG_SOURCES = {
    "insert": ("NEW TABLE AS new_rows", f"SELECT 1 AS sign, {COLUMNS} FROM new_rows"),
    "update": (
        "OLD TABLE AS old_rows NEW TABLE AS new_rows",
        f"SELECT -1 AS sign, {COLUMNS} FROM old_rows UNION ALL SELECT 1, {COLUMNS} FROM new_rows",
    ),
    "delete": ("OLD TABLE AS old_rows", f"SELECT -1 AS sign, {COLUMNS} FROM old_rows"),
}


def _row(sign: int, row: str) -> str:
    return f"SELECT {sign} AS sign, " + ", ".join(f"{row}.{c} AS {c}" for c in COLUMNS.split(", "))


SQLITE_SOURCES = {
    "insert": _row(1, "NEW"),
    "update": f"{_row(-1, 'OLD')} UNION ALL {_row(1, 'NEW')}",
    "delete": _row(-1, "OLD"),
}


def upgrade() -> None:
    for table, period in (("consent_days", "day"), ("consent_months", "month")):
        op.create_table(
            table,
            sa.Column(period, sa.Date(), nullable=False),
            sa.Column("purpose", sa.String(length=32), nullable=False),
            sa.Column("recipient_type", sa.String(length=16), nullable=False),
            sa.Column("channel", sa.String(length=16), nullable=False),
            sa.Column("granted", sa.BigInteger(), nullable=False),
            sa.Column("revoked", sa.BigInteger(), nullable=False),
            sa.Column("ended", sa.BigInteger(), nullable=False),
            # The period first: the routes read ranges of it.
            sa.PrimaryKeyConstraint(period, "purpose", "recipient_type", "channel", name=op.f(f"pk_{table}")),
        )
    op.create_index(
        "ix_consents_expires_at_kpis",
        "consents",
        ["expires_at"],
        unique=False,
        postgresql_include=["granted_at", "revoked_at", "purpose", "recipient_type", "channel"],
    )
    if op.get_bind().dialect.name == "postgresql":
        for statement in _both(f"SELECT 1 AS sign, {COLUMNS} FROM consents", _pg_day, _pg_month).split(";"):
            op.execute(statement)
        for event, (transition, source) in PG_SOURCES.items():
            op.execute(
                f"""CREATE FUNCTION consent_days_{event}() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN {_both(source, _pg_day, _pg_month)};
                RETURN NULL; END $$"""
            )
            op.execute(
                f"""CREATE TRIGGER consent_days_{event} AFTER {event.upper()} ON consents
                REFERENCING {transition} FOR EACH STATEMENT EXECUTE FUNCTION consent_days_{event}()"""
            )
    else:
        for statement in _both(f"SELECT 1 AS sign, {COLUMNS} FROM consents", _sqlite_day, _sqlite_month).split(";"):
            op.execute(statement)
        for event, source in SQLITE_SOURCES.items():
            op.execute(
                f"""CREATE TRIGGER consent_days_{event} AFTER {event.upper()} ON consents FOR EACH ROW
                BEGIN {_both(source, _sqlite_day, _sqlite_month)}; END"""
            )


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for event in PG_SOURCES:
        op.execute(f"DROP TRIGGER IF EXISTS consent_days_{event}" + (" ON consents" if postgresql else ""))
        if postgresql:
            op.execute(f"DROP FUNCTION IF EXISTS consent_days_{event}()")
    op.drop_index(
        "ix_consents_expires_at_kpis",
        table_name="consents",
        postgresql_include=["granted_at", "revoked_at", "purpose", "recipient_type", "channel"],
    )
    op.drop_table("consent_months")
    op.drop_table("consent_days")
