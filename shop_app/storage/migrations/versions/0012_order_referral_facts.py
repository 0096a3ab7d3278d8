"""orders keep what a referral message needs (issue 11): the buyer's email marketing answer and
the order's status page

Revision ID: 0012
Revises: 0011

- orders.accepts_marketing: Shopify's buyer_accepts_marketing (None when the payload did not say);
  a referral email in a subscribers-only shop needs it;
- orders.status_url: Shopify's order_status_url, the referral review step's link when the
  merchant set no review page.
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("accepts_marketing", sa.Boolean(), nullable=True))
        batch.add_column(sa.Column("status_url", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("status_url")
        batch.drop_column("accepts_marketing")
