"""discount_removals: the Shopify discounts of erased customers, still to be deleted there

Revision ID: 0032
Revises: 0031

customers/redact dropped the advocate's row and their rewards, but the codes the app had made in
the shop's Shopify stayed live there, the advocate's own made from their first name (found by a
review). The redact now records each such discount's gid (never the code: it holds the name) in
its own transaction, and the reconciler deletes it through the Admin API (discountCodeDelete),
the row going once Shopify says the discount is gone; a failed try keeps the row with `attempts`,
`reason` (without personal data) and `retry_at` (no new try before it). Shop-scoped, unique per
(shop, discount); gone with the shop. A few rows at most, while Shopify has not confirmed: no
other index.
"""

import sqlalchemy as sa
from alembic import op

revision = "0032"
down_revision = "0031"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "discount_removals",
        sa.Column("id", _ID, nullable=False),
        sa.Column("shop_id", _ID, nullable=False),
        sa.Column("discount_id", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("retry_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("shop_id", "discount_id", name="uq_discount_removals_shop_discount"),
    )


def downgrade() -> None:
    op.drop_table("discount_removals")
