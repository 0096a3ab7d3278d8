"""messages.provider_id loses its index, which no query used

Revision ID: 0031
Revises: 0030

The index dates from 0005, when Twilio's status callbacks found their message by its SID. They
find it by the message id in their signed URL (webhooks/twilio_callbacks.py), and SendGrid's
events by the message id in their custom arguments; nothing reads messages by provider_id. The
index cost every sent message an entry, 180 bytes a journey (issue 13, storage).
"""

import sqlalchemy as sa
from alembic import op

revision = "0031"
down_revision = "0030"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_messages_provider_id", table_name="messages")


def downgrade() -> None:
    where = sa.text("provider_id IS NOT NULL")
    op.create_index("ix_messages_provider_id", "messages", ["provider_id"], postgresql_where=where, sqlite_where=where)
