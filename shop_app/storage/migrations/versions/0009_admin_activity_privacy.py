"""admin activity and privacy pages (issue 10): indexes for newest-first pages and contact search,
where a suppression came from, and who lifted one

Revision ID: 0009
Revises: 0008

A suppression's source is read back from its reason for the rows already there: a STOP reply
("replied 'STOP' by SMS ...") is a keyword, the one-click link's reason is an unsubscribe, and
everything else (bounces, complaints, carrier opt-outs) stays `provider`, which cannot be lifted.
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

_INDEXES = (
    ("ix_checkouts_shop_email", "checkouts", ["shop_id", "email"]),
    ("ix_checkouts_shop_phone", "checkouts", ["shop_id", "phone"]),
    ("ix_checkouts_shop_sms_phone", "checkouts", ["shop_id", "sms_phone"]),
    ("ix_journeys_shop_id_desc", "journeys", ["shop_id", "id"]),
    ("ix_messages_shop_id_desc", "messages", ["shop_id", "id"]),
)


def upgrade() -> None:
    for name, table, columns in _INDEXES:
        op.create_index(name, table, columns)
    with op.batch_alter_table("suppressions") as batch:
        batch.add_column(sa.Column("source", sa.String(length=16), nullable=False, server_default="provider"))
    op.execute("UPDATE suppressions SET source = 'keyword' WHERE reason LIKE 'replied %'")
    op.execute("UPDATE suppressions SET source = 'unsubscribe' WHERE reason = 'unsubscribed by one-click link'")
    op.create_table(
        "suppression_lifts",
        sa.Column("id", Id, primary_key=True),
        sa.Column("shop_id", Id, sa.ForeignKey("shops.id", ondelete="CASCADE"), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("address", sa.String(length=320), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("suppressed_at", sa.DateTime(), nullable=False),
        sa.Column("lifted_by", sa.String(length=64), nullable=False),
        sa.Column("lifted_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_suppression_lifts_shop_id", "suppression_lifts", ["shop_id"])


def downgrade() -> None:
    op.drop_index("ix_suppression_lifts_shop_id", table_name="suppression_lifts")
    op.drop_table("suppression_lifts")
    with op.batch_alter_table("suppressions") as batch:
        batch.drop_column("source")
    for name, table, _columns in reversed(_INDEXES):
        op.drop_index(name, table_name=table)
