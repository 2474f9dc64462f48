"""known customers: when a customer was erased, as every component keeps it

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29

The table is now services/kit/known_customers.py's, with this service's own columns (manager,
tier, last event): the `erased` flag becomes `erased_at`, taken from the last event applied to an
erased customer (their erasure, or an event after it).
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_time = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("known_customers") as batch:
        batch.add_column(sa.Column("erased_at", _time, nullable=True))
    op.execute("UPDATE known_customers SET erased_at = updated_at WHERE erased")
    with op.batch_alter_table("known_customers") as batch:
        batch.drop_column("erased")


def downgrade() -> None:
    with op.batch_alter_table("known_customers") as batch:
        batch.add_column(sa.Column("erased", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.execute("UPDATE known_customers SET erased = (erased_at IS NOT NULL)")
    with op.batch_alter_table("known_customers") as batch:
        batch.drop_column("erased_at")
