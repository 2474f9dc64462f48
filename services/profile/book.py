"""The customer book per day, month and year, kept by the database with every write, so the
bank-wide KPIs (kpis.py) read a few rows per year, month and day instead of every customer,
churn move and identity document.

One row per (breakdown, period, first day of the period, breakdown value) of the customers who
have that tier, stage, manager or risk level now ('' stands for no manager or no risk level):
how many of them were created in the period, their assets and how many of those have a high
risk appetite; how many moves to `churned` they made in the period; how many of their identity
documents expire in it. Erased customers stay in the sums, as their rows keep what the sums
read (R2.2: an erasure leaves the aggregates, past figures included, as they were); their
documents leave them, since nobody renews an erased customer's documents. Every customer counts
once under each breakdown, so the rows of any one breakdown sum to the whole book.

Triggers keep the rows in the transaction of each write to `customers`, `lifecycle_history` or
`customer_documents`: whatever writes them (the API, an import by COPY, a bulk tier review, a
risk assessment event, an erasure) cannot leave the sums behind. A change of a customer's
breakdown values moves the customer's churn moves and documents with the customer.
On PostgreSQL one statement-level trigger per table and operation folds all the rows a statement
changed into one upsert, in key order (writers meeting on the same rows, e.g. today's, queue
there rather than deadlock); on SQLite a row-level trigger does the same per row.

A transaction that creates customers and then goes on working (a bulk import over minutes, a
creation through screening and risk rating) would hold those rows from its first insert to its
commit, and every other change of a customer created in the same year would queue behind it:
customer creations one at a time, bank-wide. On PostgreSQL it defers the book instead (`defer`):
the triggers leave its writes alone, and `catch_up`, just before it commits, adds the customers
it created in one upsert, so it holds the rows for that statement only.
"""

from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from events.contracts.terms import RiskLevel, Stage
from services.profile.models import Base

TABLE = "customer_book"
# The breakdown name -> the customers column it groups by.
COLUMNS = {
    "tier": "tier",
    "stage": "lifecycle_stage",
    "manager": "relationship_manager_id",
    "risk_level": "risk_level",
}
HIGH_RISK_LEVELS = (RiskLevel.C4.value, RiskLevel.C5.value)
SUMS = ("customers", "assets", "high_risk", "churned", "documents")
# The columns of each table the sums depend on.
READS = {
    "customers": ("id", "created_at", "erased_at", "assets_under_management", *COLUMNS.values()),
    "lifecycle_history": ("customer_id", "to_stage", "at"),
    "customer_documents": ("customer_id", "expires_on"),
}


class BookSums(Base):
    __tablename__ = TABLE

    dimension: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    period: Mapped[str] = mapped_column(sa.String(5), primary_key=True)  # 'day', 'month' or 'year'
    starts_on: Mapped[date] = mapped_column(sa.Date(), primary_key=True)
    value: Mapped[str] = mapped_column(sa.String(128), primary_key=True)
    customers: Mapped[int] = mapped_column(sa.BigInteger())  # created in the period
    assets: Mapped[Decimal] = mapped_column(sa.Numeric(20, 2))  # of those customers
    high_risk: Mapped[int] = mapped_column(sa.BigInteger())  # of those, risk level C4 or C5
    churned: Mapped[int] = mapped_column(sa.BigInteger())  # moves to `churned` in the period
    documents: Mapped[int] = mapped_column(sa.BigInteger())  # identity documents expiring in it


_HIGH = ", ".join(f"'{level}'" for level in HIGH_RISK_LEVELS)
_CHURNED = f"'{Stage.CHURNED.value}'"


def _day(column: str, dialect: str) -> str:
    return f"({column} AT TIME ZONE 'UTC')::date" if dialect == "postgresql" else f"date({column})"


def _counting(name: str) -> str:
    """The sums of one churn move or document (1 under `name`)."""
    return ", ".join(f"{int(sum_ == name)} AS {sum_}" for sum_ in SUMS)


def _sources(dialect: str, customers: str, moves: str, documents: str, *, erased_counted: bool = True) -> list[str]:
    """What the rows count, from relations named `customers`, `moves` (lifecycle history) and
    `documents` (a table, or a trigger's old or new rows): one select each of (day, customers,
    assets, high risk, churned, documents) per customer, churn move and document, with the
    customer's columns as `c`. Without `erased_counted` (the book before revision 0018) erased
    customers and their churn moves leave the sums too."""
    high = f"CASE WHEN c.risk_level IN ({_HIGH}) THEN 1 ELSE 0 END"
    groups = ", ".join(f"c.{column}" for column in COLUMNS.values())
    not_erased = "" if erased_counted else "c.erased_at IS NULL"
    return [
        f"SELECT {_day('c.created_at', dialect)} AS day, 1 AS customers, c.assets_under_management AS assets, "
        f"{high} AS high_risk, 0 AS churned, 0 AS documents, {groups} FROM {customers} c"
        + (f" WHERE {not_erased}" if not_erased else ""),
        f"SELECT {_day('h.at', dialect)} AS day, {_counting('churned')}, {groups} FROM {moves} h JOIN {customers} c "
        f"ON c.id = h.customer_id WHERE h.to_stage = {_CHURNED}" + (f" AND {not_erased}" if not_erased else ""),
        f"SELECT d.expires_on AS day, {_counting('documents')}, {groups} FROM {documents} d JOIN {customers} c "
        "ON c.id = d.customer_id WHERE c.erased_at IS NULL",
    ]


def _postgresql_upsert(parts: list[tuple[str, int]]) -> str:
    """Add each select of `parts` (as `_sources` writes them) times its sign to the day, month and
    year rows it falls in; changes that cancel out (an update of columns nothing here depends on)
    touch no row."""
    # Each select summed by day and breakdown values first, so that a statement of many rows (an
    # import's catch-up, a bulk tier review) spreads a few groups, not every row, over the
    # breakdowns and periods.
    keys = ", ".join(f"s.{column}" for column in COLUMNS.values())
    grouped = ", ".join(f"sum(s.{name}) AS {name}" for name in SUMS)
    rows = " UNION ALL ".join(
        f"SELECT {sign} AS sign, g.day, g.customers, g.assets, g.high_risk, g.churned, g.documents, "
        f"d.dimension, d.value FROM (SELECT s.day, {grouped}, {keys} FROM ({source}) s GROUP BY s.day, {keys}) g "
        "CROSS JOIN LATERAL (VALUES "
        + ", ".join(f"('{name}', coalesce(g.{column}, ''))" for name, column in COLUMNS.items())
        + ") d(dimension, value)"
        for source, sign in parts
    )
    sums = ", ".join(f"sum(r.sign * r.{name})" for name in SUMS)
    return (
        f"INSERT INTO {TABLE} AS t (dimension, period, starts_on, value, {', '.join(SUMS)}) "
        "SELECT r.dimension, p.period, CASE p.period WHEN 'day' THEN r.day "
        f"ELSE date_trunc(p.period, r.day::timestamp)::date END AS starts_on, r.value, {sums} "
        f"FROM ({rows}) r CROSS JOIN (VALUES ('day'), ('month'), ('year')) p(period) "
        "GROUP BY 1, 2, 3, 4 "
        f"HAVING {' OR '.join(f'sum(r.sign * r.{name}) <> 0' for name in SUMS)} "
        "ORDER BY 1, 2, 3, 4 "  # one lock order for every writer
        f"ON CONFLICT (dimension, period, starts_on, value) DO UPDATE SET "
        + ", ".join(f"{name} = t.{name} + excluded.{name}" for name in SUMS)
    )


def _sqlite_upsert(parts: list[tuple[str, int]]) -> str:
    rows = " UNION ALL ".join(
        f"SELECT {sign} AS sign, s.day, s.customers, s.assets, s.high_risk, s.churned, s.documents, "
        f"s.{column} AS value, '{name}' AS dimension FROM ({source}) s"
        for source, sign in parts
        for name, column in COLUMNS.items()
    )
    sums = ", ".join(f"sum(r.sign * r.{name})" for name in SUMS)
    return (
        f"INSERT INTO {TABLE} (dimension, period, starts_on, value, {', '.join(SUMS)}) "
        "SELECT r.dimension, p.period, CASE p.period WHEN 'day' THEN r.day "
        "WHEN 'month' THEN strftime('%Y-%m-01', r.day) ELSE strftime('%Y-01-01', r.day) END, "
        f"coalesce(r.value, ''), {sums} "
        f"FROM ({rows}) r, (SELECT 'day' AS period UNION ALL SELECT 'month' UNION ALL SELECT 'year') p "
        "WHERE true GROUP BY 1, 2, 3, 4 "
        f"HAVING {' OR '.join(f'sum(r.sign * r.{name}) <> 0' for name in SUMS)} "
        f"ON CONFLICT (dimension, period, starts_on, value) DO UPDATE SET "
        + ", ".join(f"{name} = {name} + excluded.{name}" for name in SUMS)
        + ";"
    )


def _changed(table: str, which: str) -> str:
    """The `which` ('new' or 'old') rows of an update of `table` (PostgreSQL transition tables)
    whose read columns changed: a set difference, linear in the rows whatever the plan."""
    columns = ", ".join(READS[table] if "id" in READS[table] else ("id", *READS[table]))
    other = "old" if which == "new" else "new"
    return f"(SELECT {columns} FROM {which}_rows EXCEPT SELECT {columns} FROM {other}_rows)"


def _triggers(dialect: str, *, erased_counted: bool = True) -> list[tuple[str, str, str, list[tuple[str, int]]]]:
    """(table, operation, transition tables, the selects it adds and takes away) per trigger.
    On SQLite a row trigger's old or new row is a one-row subquery of the columns read."""

    def rows(table: str, which: str) -> str:
        if dialect == "postgresql":
            return f"{which.lower()}_rows"
        return "(SELECT " + ", ".join(f"{which}.{column} AS {column}" for column in READS[table]) + ")"

    def sources(customers: str, moves: str, documents: str) -> list[str]:
        return _sources(dialect, customers, moves, documents, erased_counted=erased_counted)

    changes = [
        ("customers", lambda rows: sources(rows, "lifecycle_history", "customer_documents")),
        ("lifecycle_history", lambda rows: sources("customers", rows, "customer_documents")[1:2]),
        ("customer_documents", lambda rows: sources("customers", "lifecycle_history", rows)[2:]),
    ]
    triggers = []
    for table, sources_of in changes:
        new, old = rows(table, "NEW"), rows(table, "OLD")
        changed_new, changed_old = new, old
        if dialect == "postgresql":
            # Only the rows whose read columns changed (most updates of a customer touch none:
            # activity, contact details), so the others cost no look-up of moves and documents.
            changed_new, changed_old = _changed(table, "new"), _changed(table, "old")
        triggers += [
            (table, "insert", "NEW TABLE AS new_rows", [(s, 1) for s in sources_of(new)]),
            (
                table,
                "update",
                "OLD TABLE AS old_rows NEW TABLE AS new_rows",
                [(s, 1) for s in sources_of(changed_new)] + [(s, -1) for s in sources_of(changed_old)],
            ),
            (table, "delete", "OLD TABLE AS old_rows", [(s, -1) for s in sources_of(old)]),
        ]
    return triggers


# Set (for the transaction only) by a writer that adds its customers to the book itself.
_DEFERRED = "crm.customer_book_deferred"


def defer_statement() -> str:
    """PostgreSQL: the book's triggers leave the rest of this transaction's writes alone."""
    return f"SELECT set_config('{_DEFERRED}', 'on', true)"


def catch_up_statements() -> list[str]:
    """PostgreSQL, in a transaction that ran `defer_statement` and then only created customers
    (with their first lifecycle rows; no documents, no savepoints), all created at the bound
    `:created_at`: add them, and their churn moves, to the book; the triggers then apply again.
    The customers are those of `:created_at` that this transaction wrote (`xmin`): a customer
    another request created at the same instant was counted by its own transaction."""
    created = (
        f"(SELECT {', '.join(READS['customers'])} FROM customers "
        "WHERE created_at = :created_at AND xmin = pg_current_xact_id()::xid)"
    )
    sources = _sources("postgresql", created, "lifecycle_history", "customer_documents")
    return [_postgresql_upsert([(source, 1) for source in sources]), f"SELECT set_config('{_DEFERRED}', 'off', true)"]


async def defer(session: AsyncSession) -> bool:
    """PostgreSQL: the book's triggers leave the rest of this transaction's writes alone, until
    `catch_up`; whether they do (on SQLite the row triggers keep the book as always)."""
    if session.get_bind().dialect.name != "postgresql":
        return False
    await session.execute(sa.text(defer_statement()))
    return True


async def catch_up(session: AsyncSession, created_at: datetime) -> None:
    """The last statements before the commit of a transaction that ran `defer` and then only
    created customers, all at `created_at` (see `catch_up_statements`)."""
    await session.flush()
    for statement in catch_up_statements():
        await session.execute(sa.text(statement), {"created_at": created_at})


def _name(table: str, operation: str) -> str:
    return f"{TABLE}_{table}_{operation}"


# A statement that wrote at most this many rows (every write of the API and of an event) runs the
# book's SQL as plain PL/pgSQL statements, planned once per connection: planned for each write,
# the triggers cost the database about 1.15 ms of CPU on a one-customer tier change, against
# 0.2 ms planned once. A larger statement (a bulk tier review, a correction by SQL) EXECUTEs it,
# planned for its number of rows: a plan made for one customer would join thousands by nested
# loops.
PLANNED_ONCE_UP_TO_ROWS = 16


def create_statements(
    dialect: str, *, deferrable: bool = True, planned_once: bool = True, erased_counted: bool = True
) -> list[str]:
    """The triggers that keep the book's rows (for a migration); on PostgreSQL `deferrable`
    ones leave a transaction alone once it ran `defer_statement`, and with `planned_once` a
    statement of few rows runs the book's SQL planned once per connection (`erased_counted`:
    see `_sources`)."""
    statements = []
    for table, operation, transition, parts in _triggers(dialect, erased_counted=erased_counted):
        name = _name(table, operation)
        if dialect != "postgresql":
            columns = f" OF {', '.join(READS[table])}" if operation == "update" else ""
            statements.append(
                f"CREATE TRIGGER {name} AFTER {operation.upper()}{columns} ON {table} BEGIN {_sqlite_upsert(parts)} END"
            )
            continue
        rows = "new_rows" if operation != "delete" else "old_rows"
        lock = ""
        if table != "customers":
            # The customers' rows first: a concurrent change of their breakdown values (which
            # moves their churn moves and documents) then sees these rows, or waits for them.
            lock = f"PERFORM 1 FROM customers c JOIN {rows} r ON c.id = r.customer_id FOR SHARE OF c; "
        upsert = _postgresql_upsert(parts)
        # Planned for each statement's number of rows.
        executed = (
            f"EXECUTE $sql$SELECT EXISTS {_changed(table, 'new')}$sql$ INTO changed; "
            "IF NOT changed THEN RETURN NULL; END IF; "
            if operation == "update"
            else ""
        ) + f"{lock}EXECUTE $sql${upsert}$sql$; "
        body = executed
        if planned_once:
            planned = (
                f"IF NOT EXISTS {_changed(table, 'new')} THEN RETURN NULL; END IF; " if operation == "update" else ""
            ) + f"{lock}{upsert}; "
            body = (
                f"IF NOT EXISTS (SELECT FROM {rows} OFFSET {PLANNED_ONCE_UP_TO_ROWS}) THEN {planned}"
                f"ELSE {executed}END IF; "
            )
        statements += [
            f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ DECLARE changed boolean; BEGIN "
            + (f"IF current_setting('{_DEFERRED}', true) = 'on' THEN RETURN NULL; END IF; " if deferrable else "")
            + f"{body}RETURN NULL; END $$",
            f"CREATE TRIGGER {name} AFTER {operation.upper()} ON {table} "
            f"REFERENCING {transition} FOR EACH STATEMENT EXECUTE FUNCTION {name}()",
        ]
    return statements


def replace_statements(*, deferrable: bool = True, planned_once: bool = True, erased_counted: bool = True) -> list[str]:
    """PostgreSQL: the triggers dropped and created again with these choices (for a migration),
    nothing they count written while they are away."""
    return [
        "LOCK TABLE customers, lifecycle_history, customer_documents IN SHARE ROW EXCLUSIVE MODE",
        *drop_statements("postgresql"),
        *create_statements(
            "postgresql", deferrable=deferrable, planned_once=planned_once, erased_counted=erased_counted
        ),
    ]


def drop_statements(dialect: str) -> list[str]:
    statements = []
    for table, operation, _, _ in _triggers(dialect):
        name = _name(table, operation)
        if dialect == "postgresql":
            statements += [f"DROP TRIGGER IF EXISTS {name} ON {table}", f"DROP FUNCTION IF EXISTS {name}()"]
        else:
            statements.append(f"DROP TRIGGER IF EXISTS {name}")
    return statements


def rebuild_statements(dialect: str, *, erased_counted: bool = True) -> list[str]:
    """Recompute every row from the customers, their churn moves and documents (the migration's
    backfill; a check in tests)."""
    sources = _sources(dialect, "customers", "lifecycle_history", "customer_documents", erased_counted=erased_counted)
    upsert = _postgresql_upsert if dialect == "postgresql" else _sqlite_upsert
    return [f"DELETE FROM {TABLE}", upsert([(s, 1) for s in sources]).rstrip(";")]
