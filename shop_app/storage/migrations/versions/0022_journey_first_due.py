"""journeys.first_due_at: the conversion rule's anchor kept on the journey (issue 12, point 5)

Revision ID: 0022
Revises: 0021

The report's conversion query (reporting/measurement.py, domain/incremental.py's rule) anchored
each journey of the range at its first message's planned time with a min(due_at) over its messages:
on bench/report.py's shop (300,000 journeys, 1,000,000 messages) one index probe per journey of
the range, most of the report's time. `outbox.add_planned` now keeps the earliest planned due time
on the journey (and `outbox.reschedule`, the planner moving a scheduled message, sets it again from
the journey's messages), and the journeys' abandonment index carries it, so the range's anchors are
read from that index alone. Existing journeys are backfilled from their messages.

The report's sent, delivered and clicked per step (by_step) read the shop's sent messages from
the table (434 MB there) to join them to the range's journeys; ix_messages_shop_status_journey
holds every column that query reads, so it reads the index alone (86 MB): by_step 15 days
430 -> 240 ms on that shop.
"""

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

_OLD = ["shop_id", "abandoned_at", "flow", "status", "reached", "holdout", "id", "checkout_id"]
_BY_STEP = ["shop_id", "status", "journey_id", "id", "flow", "step", "channel", "delivery_status"]


def upgrade() -> None:
    with op.batch_alter_table("journeys") as batch:
        batch.add_column(sa.Column("first_due_at", sa.DateTime(), nullable=True))
    op.execute(
        "UPDATE journeys SET first_due_at ="
        " (SELECT min(messages.due_at) FROM messages WHERE messages.journey_id = journeys.id)"
        " WHERE reached"
    )
    op.drop_index("ix_journeys_shop_abandoned", table_name="journeys")
    op.create_index("ix_journeys_shop_abandoned", "journeys", [*_OLD, "first_due_at"])
    op.create_index("ix_messages_shop_status_journey", "messages", _BY_STEP)


def downgrade() -> None:
    op.drop_index("ix_messages_shop_status_journey", table_name="messages")
    op.drop_index("ix_journeys_shop_abandoned", table_name="journeys")
    op.create_index("ix_journeys_shop_abandoned", "journeys", _OLD)
    with op.batch_alter_table("journeys") as batch:
        batch.drop_column("first_due_at")
