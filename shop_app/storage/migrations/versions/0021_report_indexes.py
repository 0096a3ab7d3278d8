"""indexes the results report reads through (issue 12, point 5)

Revision ID: 0021
Revises: 0020

bench/report.py (a shop of 300,000 journeys and 1,000,000 messages on PostgreSQL) read with
EXPLAIN ANALYZE; each index serves a query of reporting/measurement.py:

- ix_journeys_shop_abandoned (0015) gets holdout, id and checkout_id after its columns, so the
  validation cycle reads it as before and the report's range of journeys per holdout side, joined
  to attributions (id) and checkouts (checkout_id), is read from the index alone, not the rows;
- orders (shop, customer id) and orders (shop, phone): the conversion rule's "same person"
  lookups (domain/incremental.py), one per journey of the range; orders had indexes for the
  checkout token and the email only, so the other two keys scanned the shop's orders;
- message_events (message, event, provider) replaces ix_message_events_message_id: the report's
  "clicked" probe per sent message is answered by the index alone (the foreign key's cascade
  still finds a message's events through its first column);
- messages (journey, due_at) replaces ix_messages_journey_id: a journey's first planned send (the
  conversion rule's anchor, min(due_at)) is one index entry (the foreign key's cascade still finds
  a journey's messages through its first column).
"""

from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

_JOURNEYS_OLD = ["shop_id", "abandoned_at", "flow", "status", "reached"]
_JOURNEYS = [*_JOURNEYS_OLD, "holdout", "id", "checkout_id"]
#: (index, table, columns, the index it replaces and that one's columns, or None)
_INDEXES = (
    ("ix_orders_shop_customer", "orders", ["shop_id", "customer_id"], None),
    ("ix_orders_shop_phone", "orders", ["shop_id", "phone"], None),
    (
        "ix_message_events_message_event",
        "message_events",
        ["message_id", "event", "provider"],
        ("ix_message_events_message_id", ["message_id"]),
    ),
    ("ix_messages_journey_due", "messages", ["journey_id", "due_at"], ("ix_messages_journey_id", ["journey_id"])),
)


def upgrade() -> None:
    op.drop_index("ix_journeys_shop_abandoned", table_name="journeys")
    op.create_index("ix_journeys_shop_abandoned", "journeys", _JOURNEYS)
    for name, table, columns, replaced in _INDEXES:
        op.create_index(name, table, columns)
        if replaced is not None:
            op.drop_index(replaced[0], table_name=table)


def downgrade() -> None:
    for name, table, _columns, replaced in reversed(_INDEXES):
        if replaced is not None:
            op.create_index(replaced[0], table, replaced[1])
        op.drop_index(name, table_name=table)
    op.drop_index("ix_journeys_shop_abandoned", table_name="journeys")
    op.create_index("ix_journeys_shop_abandoned", "journeys", _JOURNEYS_OLD)
