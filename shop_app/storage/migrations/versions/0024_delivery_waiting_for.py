"""webhook_deliveries.waiting_for: a cancellation or refund that came before its order (issue 12)

Revision ID: 0024
Revises: 0023

Shopify does not promise to deliver webhooks in order: an orders/cancelled or refunds/create may
arrive before the orders/paid of its order. Until now such a delivery was processed as "an order we
do not know" and forgotten, so the order, once stored, kept its credit and converted journeys as
if it had never been cancelled or refunded. Now the delivery waits, its body kept, with the Shopify
id of the order it waits for here; storing that order releases it (jobs/ingest.py), and one that
waited in vain is processed for good when its wait runs out.
"""

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.add_column(sa.Column("waiting_for", sa.String(length=64), nullable=True))
    op.create_index("ix_webhook_deliveries_shop_waiting", "webhook_deliveries", ["shop_id", "waiting_for"])


def downgrade() -> None:
    op.drop_index("ix_webhook_deliveries_shop_waiting", table_name="webhook_deliveries")
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.drop_column("waiting_for")
