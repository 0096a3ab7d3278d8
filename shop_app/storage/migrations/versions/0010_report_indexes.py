"""the validation cycle's indexes (issue 10): each figure of the Home page and `reclaim report` is
an aggregate over one shop's rows in a time range, read through an index on (shop, time)

Revision ID: 0010
Revises: 0009

- journeys by abandonment (abandoned checkouts, reachable, journeys by state), and
- messages by send time (messages sent per stage and channel), both covering every column the
  figures read, so the database never visits the rows themselves (SQLite reads only the index);
- click rows by event and creation (clicks on the day of the first click);
- orders by creation, and converted journeys by order (recovered orders and revenue, on the day
  the order was placed).
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_INDEXES = (
    ("ix_journeys_shop_abandoned", "journeys", ["shop_id", "abandoned_at", "flow", "status"]),
    ("ix_journeys_shop_status_order", "journeys", ["shop_id", "status", "order_id"]),
    ("ix_messages_shop_sent", "messages", ["shop_id", "sent_at", "status", "flow", "step", "channel"]),
    ("ix_message_events_shop_event", "message_events", ["shop_id", "event", "created_at"]),
    ("ix_orders_shop_created", "orders", ["shop_id", "shopify_created_at"]),
)


def upgrade() -> None:
    for name, table, columns in _INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _columns in reversed(_INDEXES):
        op.drop_index(name, table_name=table)
