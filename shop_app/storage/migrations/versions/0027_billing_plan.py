"""Billing (issue 14, item 1): the shop's plan as read from Shopify, and journeys counted per month

Revision ID: 0027
Revises: 0026

- shops.plan_handle, plan_name, plan_status, plan_subscription_id: the active app subscription the
  Admin API (currentAppInstallation.activeSubscriptions) or the app_subscriptions/update webhook
  last gave; plan_development: a partner development store (free, unlimited); plan_checked_at: when
  it was last read (None: never, no limit applied yet); plan_updated_at: the newest webhook
  `updated_at` applied, so a late delivery cannot undo a newer one.
- journeys.started_at: when the app started the journey (None for older ones: they belong to no
  plan month); journeys.plan_limited: refused by the plan's monthly limit (its messages skipped),
  not counted as usage. An index reads a shop's journeys of a flow started in a month.
"""

import sqlalchemy as sa
from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("shops") as batch:
        batch.add_column(sa.Column("plan_handle", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("plan_name", sa.String(length=255), nullable=True))
        batch.add_column(sa.Column("plan_status", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("plan_subscription_id", sa.String(length=128), nullable=True))
        batch.add_column(sa.Column("plan_development", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("plan_checked_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("plan_updated_at", sa.DateTime(), nullable=True))
    with op.batch_alter_table("journeys") as batch:
        batch.add_column(sa.Column("started_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("plan_limited", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_index("ix_journeys_shop_flow_started", "journeys", ["shop_id", "flow", "started_at", "plan_limited"])


def downgrade() -> None:
    op.drop_index("ix_journeys_shop_flow_started", table_name="journeys")
    with op.batch_alter_table("journeys") as batch:
        batch.drop_column("plan_limited")
        batch.drop_column("started_at")
    with op.batch_alter_table("shops") as batch:
        for column in ("plan_updated_at", "plan_checked_at", "plan_development", "plan_subscription_id",
                       "plan_status", "plan_name", "plan_handle"):  # fmt: skip
            batch.drop_column(column)
