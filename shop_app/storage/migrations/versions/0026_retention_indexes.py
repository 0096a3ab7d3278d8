"""Indexes for retention (issue 13, point 7): old message events by time, and the finished messages
that still hold their content (a partial index: rows retention emptied leave it, so each pass reads
only what is left to purge).

Revision ID: 0026
Revises: 0025
"""

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None

_HOLDING = sa.text("body IS NOT NULL")


def upgrade() -> None:
    op.create_index("ix_message_events_created", "message_events", ["created_at"])
    op.create_index("ix_messages_content_due", "messages", ["due_at"], postgresql_where=_HOLDING, sqlite_where=_HOLDING)


def downgrade() -> None:
    op.drop_index("ix_messages_content_due", table_name="messages")
    op.drop_index("ix_message_events_created", table_name="message_events")
