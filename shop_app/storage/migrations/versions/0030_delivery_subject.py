"""A checkout delivery's checkout token, read by the request

Revision ID: 0030
Revises: 0029

The webhook request parses the body anyway (a malformed one is rejected); it now keeps a
checkouts/create or checkouts/update body's token in webhook_deliveries.subject, so the ingest's
first read locks that checkout together with the delivery (issue 13: one round trip fewer per
checkout webhook). Deliveries recorded before have none: their checkout is read as before.
"""

import sqlalchemy as sa
from alembic import op

revision = "0030"
down_revision = "0029"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("webhook_deliveries", sa.Column("subject", sa.String(length=64), nullable=True))


def downgrade() -> None:
    op.drop_column("webhook_deliveries", "subject")
