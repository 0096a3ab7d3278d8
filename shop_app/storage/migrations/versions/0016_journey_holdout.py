"""journeys.holdout: a recovery journey in the holdout's control group (issue 12)

Revision ID: 0016
Revises: 0015

- journeys.holdout: true when the journey was assigned to the control group when it was created
  (shop_app/domain/holdout.py): it is planned and tracked, and every message is skipped with the
  reason "holdout (control group)". Never changed afterwards. Existing journeys predate the
  holdout and were all treated: false.
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("journeys") as batch:
        batch.add_column(sa.Column("holdout", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("journeys") as batch:
        batch.drop_column("holdout")
