"""the customer book's triggers leave alone a transaction that adds its customers to the book
itself (a bulk import, just before it commits), so it holds the book's rows for one statement

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-30
"""

from alembic import op

from services.profile.book import replace_statements

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    _replace_triggers(deferrable=True)


def downgrade() -> None:
    _replace_triggers(deferrable=False)


def _replace_triggers(*, deferrable: bool) -> None:
    if op.get_bind().dialect.name != "postgresql":  # SQLite's triggers are not deferrable (one writer at a time)
        return
    for statement in replace_statements(deferrable=deferrable, planned_once=False, erased_counted=False):
        op.execute(statement)
