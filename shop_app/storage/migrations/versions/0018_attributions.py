"""attributions: the orders recovery journeys are credited with (issue 12)

Revision ID: 0018
Revises: 0017

- attributions: one row per credited order (order_id unique): the journey, the credited message
  (nullable: SET NULL when it goes) with its step and channel, the revenue in the shop's currency,
  the presentment amount and currency, status credited | removed and the reason
  (shop_app/storage/measurement_tables.py, written by shop_app/recovery/attribution.py). Orders
  paid before this migration are not credited retroactively.
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "attributions",
        sa.Column("id", _ID, nullable=False),
        sa.Column("shop_id", _ID, nullable=False),
        sa.Column("order_id", _ID, nullable=False),
        sa.Column("journey_id", _ID, nullable=False),
        sa.Column("message_id", _ID, nullable=True),
        sa.Column("step", sa.String(length=16), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("revenue", sa.Numeric(14, 2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("presentment_amount", sa.Numeric(14, 2), nullable=True),
        sa.Column("presentment_currency", sa.String(length=3), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["journey_id"], ["journeys.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["message_id"], ["messages.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("order_id", name="uq_attributions_order"),
    )
    op.create_index("ix_attributions_shop_id", "attributions", ["shop_id"])
    op.create_index("ix_attributions_journey", "attributions", ["journey_id"])


def downgrade() -> None:
    op.drop_table("attributions")
