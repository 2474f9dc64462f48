"""erased customers stay in the customer book's sums (R2.2: an erasure leaves the aggregates,
past figures included, as they were); only their documents leave it

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-30
"""

from alembic import op

from services.profile.book import create_statements, drop_statements, rebuild_statements, replace_statements

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    _rebuild(erased_counted=True)


def downgrade() -> None:
    _rebuild(erased_counted=False)


def _rebuild(*, erased_counted: bool) -> None:
    """The triggers replaced, then every sum recomputed, nothing they count written meanwhile
    (on PostgreSQL the replacement's lock is held until the migration commits)."""
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        statements = replace_statements(erased_counted=erased_counted)
    else:
        statements = [*drop_statements(dialect), *create_statements(dialect, erased_counted=erased_counted)]
    for statement in [*statements, *rebuild_statements(dialect, erased_counted=erased_counted)]:
        op.execute(statement)
