"""data requests (privacy exports)

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "data_requests",
        sa.Column("id", Id, nullable=False),
        sa.Column("shop_id", Id, nullable=False),
        sa.Column("shopify_request_id", sa.String(length=64), nullable=True),
        sa.Column("customer_id", sa.String(length=64), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("export", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_data_requests_shop_id"), "data_requests", ["shop_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_data_requests_shop_id"), table_name="data_requests")
    op.drop_table("data_requests")
