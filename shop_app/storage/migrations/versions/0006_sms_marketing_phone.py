"""checkouts: the number the SMS marketing consent was given for (sms_marketing_phone)

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("checkouts") as batch:
        batch.add_column(sa.Column("sms_phone", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("checkouts") as batch:
        batch.drop_column("sms_phone")
