"""bounded attempts: failed job runs are counted per row and retried with backoff, then given up

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("retry_at", sa.DateTime(), nullable=True))
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("job_failures", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("shops") as batch:
        batch.add_column(sa.Column("setup_attempts", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("setup_retry_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("setup_error", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("shops") as batch:
        batch.drop_column("setup_error")
        batch.drop_column("setup_retry_at")
        batch.drop_column("setup_attempts")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("job_failures")
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.drop_column("retry_at")
        batch.drop_column("attempts")
