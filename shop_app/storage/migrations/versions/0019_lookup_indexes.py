"""two lookups that read a shop's rows one by one get their index

Revision ID: 0019
Revises: 0018

- checkouts (shop, customer id): the discount memory (recovery/offer_memory.py) finds a person's
  earlier journeys by customer id as well as by email and phone, at every send with a code;
- journeys (shop, triggering order): the activity search reaches a referral journey through the
  order that started it, and a cancelled or refunded order finds its referral journey.
"""

from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

_INDEXES = (
    ("ix_checkouts_shop_customer", "checkouts", ["shop_id", "customer_id"]),
    ("ix_journeys_shop_trigger_order", "journeys", ["shop_id", "trigger_order_id"]),
)


def upgrade() -> None:
    for name, table, columns in _INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _columns in reversed(_INDEXES):
        op.drop_index(name, table_name=table)
