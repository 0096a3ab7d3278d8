"""discounts: the Shopify id of an app-created code; shops: when post-install setup finished

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("discounts") as batch:
        batch.add_column(sa.Column("shopify_id", sa.String(length=128), nullable=True))
    with op.batch_alter_table("shops") as batch:
        batch.add_column(sa.Column("setup_completed_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("shops") as batch:
        batch.drop_column("setup_completed_at")
    with op.batch_alter_table("discounts") as batch:
        batch.drop_column("shopify_id")
