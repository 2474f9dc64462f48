"""known customers: the customers this service has learnt of from customer events

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28

Customer ids from callers are refused unless a `customer.created` event named them and no
`customer.erased` did since (services/kit/known_customers.py). The table starts empty: customers
created before this release are learnt by replaying the customer topic from the start (reset the
consumer group's offsets), or they stay unknown here until they are created anew.
"""

from alembic import op

from services.kit.known_customers import TABLE, create_known_customers_table

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_known_customers_table(op)


def downgrade() -> None:
    op.drop_table(TABLE)
