"""Fewer index bytes per journey (issue 13, storage: bench/journey_bytes.py)

Revision ID: 0028
Revises: 0027

Every status move of a message (scheduled → queued → sending → sent, then each delivery callback)
changes an indexed column, so PostgreSQL writes a new entry into every index of messages; the
indexes, not the rows, were most of a journey's bytes. This revision:

- drops the single-column shop_id index of profiles, checkouts, journeys, messages,
  message_events, consents and webhook_deliveries: another index of each leads with shop_id (the
  shop's cascade and every per-shop query find their rows through it);
- drops ix_messages_journey_due (journey_id, due_at): a journey's few messages, and their first
  due time, are found through the unique (journey_id, step, channel, occurrence) (the report reads
  journeys.first_due_at since 0022);
- makes partial the indexes whose queries always name a value of their column, so rows without
  one leave them: messages' provider id (callbacks), the sent messages' two (the validation cycle
  and the report's by_step: `sent_at IS NOT NULL`, which their queries state), journeys' pending
  Shopify checks and referral trigger order, and the deliveries waiting for an order;
- makes ix_message_events_created (retention's old events) a BRIN index on PostgreSQL: events are
  appended in time order, so a few bytes per range of pages find the old ones (SQLite keeps its
  B-tree).
"""

import sqlalchemy as sa
from alembic import op

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None

_SHOP_ID_TABLES = ("profiles", "checkouts", "journeys", "messages", "message_events", "consents", "webhook_deliveries")
_BY_STEP = ["shop_id", "status", "journey_abandoned_at", "flow", "step", "channel", "delivery_status", "id"]
#: (name, table, columns, predicate)
_PARTIAL = (
    ("ix_messages_provider_id", "messages", ["provider_id"], "provider_id IS NOT NULL"),
    ("ix_messages_shop_sent", "messages", ["shop_id", "sent_at", "status", "flow", "step", "channel"],
     "sent_at IS NOT NULL"),
    ("ix_messages_shop_status_abandoned", "messages", _BY_STEP, "sent_at IS NOT NULL"),
    ("ix_journeys_shopify_check_due", "journeys", ["shopify_check", "shopify_check_due_at"],
     "shopify_check_due_at IS NOT NULL"),
    ("ix_journeys_shop_trigger_order", "journeys", ["shop_id", "trigger_order_id"], "trigger_order_id IS NOT NULL"),
    ("ix_webhook_deliveries_shop_waiting", "webhook_deliveries", ["shop_id", "waiting_for"],
     "waiting_for IS NOT NULL"),
)  # fmt: skip


def upgrade() -> None:
    for table in _SHOP_ID_TABLES:
        op.drop_index(f"ix_{table}_shop_id", table_name=table)
    op.drop_index("ix_messages_journey_due", table_name="messages")
    for name, table, columns, predicate in _PARTIAL:
        op.drop_index(name, table_name=table)
        where = sa.text(predicate)
        op.create_index(name, table, columns, postgresql_where=where, sqlite_where=where)
    op.drop_index("ix_message_events_created", table_name="message_events")
    op.create_index("ix_message_events_created", "message_events", ["created_at"], postgresql_using="brin")


def downgrade() -> None:
    op.drop_index("ix_message_events_created", table_name="message_events")
    op.create_index("ix_message_events_created", "message_events", ["created_at"])
    for name, table, columns, _ in _PARTIAL:
        op.drop_index(name, table_name=table)
        op.create_index(name, table, columns)
    op.create_index("ix_messages_journey_due", "messages", ["journey_id", "due_at"])
    for table in _SHOP_ID_TABLES:
        op.create_index(f"ix_{table}_shop_id", table, ["shop_id"])
