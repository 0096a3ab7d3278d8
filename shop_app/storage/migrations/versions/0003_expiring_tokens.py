"""expiring offline tokens: expiry, refresh token and scope on shops

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("shops") as batch:
        batch.add_column(sa.Column("access_token_expires_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("refresh_token", sa.Text(), nullable=True))
        batch.add_column(sa.Column("refresh_token_expires_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("scope", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("shops") as batch:
        batch.drop_column("scope")
        batch.drop_column("refresh_token_expires_at")
        batch.drop_column("refresh_token")
        batch.drop_column("access_token_expires_at")
