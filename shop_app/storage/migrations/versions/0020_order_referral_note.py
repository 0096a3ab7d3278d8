"""orders say what the referral flow made of them, where the merchant reads it (issue 11 point 2)

Revision ID: 0020
Revises: 0019

- orders.referral_note: set when the order is paid (referral/journeys.start_on_paid): "referral
  journey #N started: …" or why it started none (a test order, an imported customer, a repeat
  order, the flow turned off, …). The webhook delivery's reason said it too, but no merchant page
  shows deliveries; /flows' referral card lists the newest noted orders. A fixed sentence, never
  the buyer's details. NULL for orders never paid, and for those paid before this revision.
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("referral_note", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("referral_note")
