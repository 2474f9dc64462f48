"""products have a title (the gateway masks fields called `name`); open recommendation items by customer

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

versions = sa.table(
    "product_versions", sa.column("code", sa.String), sa.column("version", sa.Integer), sa.column("data", sa.JSON())
)


def _rename_in_versions(old: str, new: str) -> None:
    bind = op.get_bind()
    for row in bind.execute(sa.select(versions)).all():
        if old in row.data:
            data = {(new if k == old else k): v for k, v in row.data.items()}
            bind.execute(
                versions.update()
                .where(versions.c.code == row.code, versions.c.version == row.version)
                .values(data=data)
            )


def upgrade() -> None:
    with op.batch_alter_table("products") as batch:
        batch.alter_column("name", new_column_name="title", existing_type=sa.String(100), existing_nullable=False)
    _rename_in_versions("name", "title")
    op.create_index("ix_recommendation_items_customer_open", "recommendation_items", ["customer_id", "open"])


def downgrade() -> None:
    op.drop_index("ix_recommendation_items_customer_open", "recommendation_items")
    _rename_in_versions("title", "name")
    with op.batch_alter_table("products") as batch:
        batch.alter_column("title", new_column_name="name", existing_type=sa.String(100), existing_nullable=False)
