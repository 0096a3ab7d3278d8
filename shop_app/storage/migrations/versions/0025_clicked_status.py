"""A clicked message's delivery status says so, whatever a provider said before (issue 12, point 5)

Revision ID: 0025
Revises: 0024

The results report counted a message clicked by hashing the shop's every click row against its
sent messages (bench/report.py's shop: about 45 ms of each report, whatever the range). A click now
moves a message's delivery status to `clicked` from any status, a provider's failure included
(domain/delivery.advance: the customer followed its link, so it reached them), so `clicked` is read
from the sent messages' index with the rest. Messages clicked before are moved here; each of them
has a click row (messaging/links.py) or an email provider's click event.
"""

from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "UPDATE messages SET delivery_status = 'clicked'"
        " WHERE (delivery_status IS NULL OR delivery_status <> 'clicked')"
        " AND id IN (SELECT message_id FROM message_events WHERE event = 'clicked')"
    )


def downgrade() -> None:
    pass  # the statuses before are not kept; `clicked` stays true of every message it names
