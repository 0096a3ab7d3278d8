"""journeys.shopify_check*: the referral trigger's question to Shopify kept on the journey (issue 11)

Revision ID: 0017
Revises: 0016

A new referral journey asks Shopify's numberOfOrders for its advocate once the trigger committed
(jobs/referral_check.py). The attempts travelled in the job's arguments, so there was no backoff
between runs and a question lost with Redis was never asked again; now the row holds them, as
deliveries and messages hold theirs, and the dispatcher enqueues what is due:

- journeys.shopify_check: pending | done | unasked | none-needed (null: a recovery journey, or a
  referral journey older than this revision, whose question was asked, or lost, the old way).
- journeys.shopify_check_attempts, journeys.shopify_check_due_at: runs so far, and when the next
  may start (the backoff after a failed run; no run before it).
- journeys.note: what the merchant should know about a journey that goes on. The old job wrote
  "Shopify could not be asked / does not know the customer" into stop_reason of an active
  journey; those move here (and back on downgrade).
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

#: What the old job wrote into an active journey's stop_reason (referral/journeys.on_shopify_orders).
_FINAL_NOTES = "({0} LIKE 'Shopify could not be asked%' OR {0} LIKE 'Shopify does not know%')"
_ACTIVE_REFERRAL = "flow = 'referral' AND status = 'active'"


def upgrade() -> None:
    with op.batch_alter_table("journeys") as batch:
        batch.add_column(sa.Column("shopify_check", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("shopify_check_attempts", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("shopify_check_due_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("note", sa.Text(), nullable=True))
    op.create_index("ix_journeys_shopify_check_due", "journeys", ["shopify_check", "shopify_check_due_at"])
    op.execute(
        "UPDATE journeys SET note = stop_reason, stop_reason = NULL,"
        " shopify_check = CASE WHEN stop_reason LIKE 'Shopify could not be asked%' THEN 'unasked' ELSE 'done' END"
        f" WHERE {_ACTIVE_REFERRAL} AND {_FINAL_NOTES.format('stop_reason')}"
    )


def downgrade() -> None:
    op.execute(
        "UPDATE journeys SET stop_reason = note"
        f" WHERE {_ACTIVE_REFERRAL} AND stop_reason IS NULL AND {_FINAL_NOTES.format('note')}"
    )
    op.drop_index("ix_journeys_shopify_check_due", table_name="journeys")
    with op.batch_alter_table("journeys") as batch:
        batch.drop_column("note")
        batch.drop_column("shopify_check_due_at")
        batch.drop_column("shopify_check_attempts")
        batch.drop_column("shopify_check")
