"""flagged duplicates: a second record with a national ID already on the book, for compliance to decide

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

ONLY_ORIGINALS = sa.text("duplicate_of IS NULL")


def upgrade() -> None:
    with op.batch_alter_table("customers") as batch:
        batch.add_column(sa.Column("duplicate_of", sa.String(36), nullable=True))
        batch.drop_index("uq_customers_national_id_index")
        batch.create_index(
            "uq_customers_national_id_index",
            ["national_id_index"],
            unique=True,
            postgresql_where=ONLY_ORIGINALS,
            sqlite_where=ONLY_ORIGINALS,
        )


def downgrade() -> None:
    with op.batch_alter_table("customers") as batch:
        batch.drop_index("uq_customers_national_id_index")
        batch.create_index("uq_customers_national_id_index", ["national_id_index"], unique=True)
        batch.drop_column("duplicate_of")
