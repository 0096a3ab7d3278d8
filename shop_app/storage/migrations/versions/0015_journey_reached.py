"""journeys.reached: the validation cycle's "reachable" kept on the journey (issue 10)

Revision ID: 0015
Revises: 0014

Home's 90-day range counted reachable journeys with a probe of messages(journey_id) for each of
up to 60,000 journeys: most of the page's time on PostgreSQL. `outbox.add_planned`, the outbox's
only way in, now sets `reached` when it plans a journey's first message (rows are never removed
but with their journey), and the journeys' abandonment index carries it, so the figure is read
from that index alone. Existing journeys are backfilled from their messages.
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

_OLD = ["shop_id", "abandoned_at", "flow", "status"]


def upgrade() -> None:
    with op.batch_alter_table("journeys") as batch:
        batch.add_column(sa.Column("reached", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.execute(
        "UPDATE journeys SET reached = true"
        " WHERE EXISTS (SELECT 1 FROM messages WHERE messages.journey_id = journeys.id)"
    )
    op.drop_index("ix_journeys_shop_abandoned", table_name="journeys")
    op.create_index("ix_journeys_shop_abandoned", "journeys", [*_OLD, "reached"])


def downgrade() -> None:
    op.drop_index("ix_journeys_shop_abandoned", table_name="journeys")
    op.create_index("ix_journeys_shop_abandoned", "journeys", _OLD)
    with op.batch_alter_table("journeys") as batch:
        batch.drop_column("reached")
