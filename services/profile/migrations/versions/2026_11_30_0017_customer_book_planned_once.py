"""the customer book's triggers run their SQL planned once per connection for a statement of
few rows (every write of the API and of an event), and planned for its size only for a larger one

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-30
"""

from alembic import op

from services.profile.book import replace_statements

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    _replace_triggers(planned_once=True)


def downgrade() -> None:
    _replace_triggers(planned_once=False)


def _replace_triggers(*, planned_once: bool) -> None:
    if op.get_bind().dialect.name != "postgresql":  # SQLite's row triggers keep no plans
        return
    for statement in replace_statements(planned_once=planned_once, erased_counted=False):
        op.execute(statement)
