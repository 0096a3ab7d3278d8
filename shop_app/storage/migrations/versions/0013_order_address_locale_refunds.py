"""orders keep what the referral flow reads of them (issue 11): a key of the shipping address,
the buyer's language and the money refunded so far

Revision ID: 0013
Revises: 0012

- orders.shipping_address_key: HMAC-SHA256 (hex) of the normalised shipping address
  (domain/addresses.shipping_address_key), keyed by the app's secret; the fraud rule "same
  shipping address" compares keys, and the address itself is never stored. Nulled on redact.
- orders.locale: Shopify's customer_locale ("es-MX"): the language of the referral messages.
- orders.refunded_total: the sum of the order's refunds so far (refunds/create, one delivery per
  refund); the referral flow stops when it reaches the order's total.
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("shipping_address_key", sa.String(64), nullable=True))
        batch.add_column(sa.Column("locale", sa.String(16), nullable=True))
        batch.add_column(sa.Column("refunded_total", sa.Numeric(14, 2), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("refunded_total")
        batch.drop_column("locale")
        batch.drop_column("shipping_address_key")
