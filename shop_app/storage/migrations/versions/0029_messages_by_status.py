"""The admin's pages of one shop's messages filtered by status, newest first

Revision ID: 0029
Revises: 0028

0028 dropped messages' single-column shop_id index and made (shop_id, status, …) partial on sent
rows, so a page of a rare status (failed, unknown: recovery/activity.message_page, the activity
filter, `reclaim` listings) walked the shop's whole history backwards on ix_messages_shop_id_desc.
(shop_id, status, id) reads just that status's rows, newest first.
"""

from alembic import op

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_messages_shop_status_id", "messages", ["shop_id", "status", "id"])


def downgrade() -> None:
    op.drop_index("ix_messages_shop_status_id", table_name="messages")
