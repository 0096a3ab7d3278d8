"""Billing (issue 14, item 1): the shop's plan as read from Shopify, and journeys counted per month

Revision ID: 0027
Revises: 0026

- shop_plans (one row per shop, shop_app/storage/billing_tables.py): the ACTIVE app subscription's
  plan handle, name, status and id as the Admin API (currentAppInstallation.activeSubscriptions) or
  the app_subscriptions/update webhook last gave them; `development`: a partner development store
  (free, unlimited); `app_category`: the installed app's AppPublicCategory (a custom app has no
  App Pricing: not limited); `checked_at`: when it was last read; `updated_at`: the newest moment applied,
  so a late webhook cannot undo a newer state. No row: never read (no limit applied yet).
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
    op.create_table(
        "shop_plans",
        sa.Column("shop_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("handle", sa.String(length=64), nullable=True),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=True),
        sa.Column("subscription_id", sa.String(length=128), nullable=True),
        sa.Column("development", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("app_category", sa.String(length=16), nullable=True),
        sa.Column("checked_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("shop_id"),
    )
    with op.batch_alter_table("journeys") as batch:
        batch.add_column(sa.Column("started_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("plan_limited", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_index("ix_journeys_shop_flow_started", "journeys", ["shop_id", "flow", "started_at", "plan_limited"])


def downgrade() -> None:
    op.drop_index("ix_journeys_shop_flow_started", table_name="journeys")
    with op.batch_alter_table("journeys") as batch:
        batch.drop_column("plan_limited")
        batch.drop_column("started_at")
    op.drop_table("shop_plans")
