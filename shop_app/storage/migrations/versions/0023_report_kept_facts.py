"""The report's facts kept where it reads them: journeys.conversion_days, and the journey's
abandonment time on its messages and attributions (issue 12, point 5)

Revision ID: 0023
Revises: 0022

bench/report.py's shop (300,000 journeys, 1,000,000 messages) took 0.9-1.4 s for a 15-day report,
most of it in two statements:

- the conversion query (domain/incremental.py's rule) joined the range's journeys to every checkout
  of the shop and each key of theirs to every order: 220 ms for 15 days, 700 ms for 90. The rule now
  lives on the journey: `conversion_days` is the fewest attribution days under which the journey
  converts (0: its own checkout paid; None: not within 30), kept by recovery/conversion.py whenever
  an order is stored or refunded and whenever the journey is planned. The report counts
  `conversion_days <= attribution_days` from the journeys' abandonment index alone.
- by_step hashed the range's journeys against every sent message of the shop (220 ms for 15 days):
  each message now carries its journey's `abandoned_at` (`journey_abandoned_at`, set by
  outbox.add_planned and moved with the journey by outbox.follow_journey), so the range's sent
  messages are one range of ix_messages_shop_status_abandoned. Attributions carry it too
  (recovery/attribution.py), for the credited orders and recovered journeys per day.

Existing rows are backfilled: the copies from their journeys, conversion_days from the orders by
the same rule (written out here as it stands today, so this migration keeps meaning what it did).
"""

from datetime import timedelta

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

_JOURNEYS_OLD = ["shop_id", "abandoned_at", "flow", "status", "reached", "holdout", "id", "checkout_id", "first_due_at"]
_BY_STEP_OLD = ["shop_id", "status", "journey_id", "id", "flow", "step", "channel", "delivery_status"]
_BY_STEP = ["shop_id", "status", "journey_abandoned_at", "flow", "step", "channel", "delivery_status", "id"]
_CREDITED = ["shop_id", "status", "journey_abandoned_at", "journey_id", "step", "channel", "revenue"]
#: measurement.attribution_days at most (domain/measurement_settings.MAX_ATTRIBUTION_DAYS in 0023).
_MOST_DAYS = 30

#: The journeys' candidate orders, one join per key (each can be hashed): the order's time and
#: whether it pays the journey's own checkout. An order refunded in full never converts.
_CANDIDATES = " UNION ALL ".join(
    f"""SELECT j.id AS journey_id, j.first_due_at AS anchor, o.shopify_created_at AS ordered_at,
               {same} AS same_checkout
        FROM journeys j JOIN checkouts c ON c.id = j.checkout_id
        JOIN orders o ON o.shop_id = j.shop_id AND o.{key} = c.{mine} AND c.{mine} <> ''
             AND o.shopify_created_at >= j.first_due_at
             AND (o.refunded_total <= 0 OR o.refunded_total < o.total_price)
        WHERE j.flow = 'recovery' AND j.reached AND j.first_due_at IS NOT NULL"""
    for key, mine, same in (
        ("checkout_token", "token", 1),
        ("customer_id", "customer_id", 0),
        ("email", "email", 0),
        ("phone", "phone", 0),
    )
)


def upgrade() -> None:
    with op.batch_alter_table("journeys") as batch:
        batch.add_column(sa.Column("conversion_days", sa.SmallInteger(), nullable=True))
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("journey_abandoned_at", sa.DateTime(), nullable=True))
    with op.batch_alter_table("attributions") as batch:
        batch.add_column(sa.Column("journey_abandoned_at", sa.DateTime(), nullable=True))
    for table in ("messages", "attributions"):
        op.execute(
            f"UPDATE {table} SET journey_abandoned_at ="
            f" (SELECT journeys.abandoned_at FROM journeys WHERE journeys.id = {table}.journey_id)"
        )
    _backfill_conversions()
    op.drop_index("ix_journeys_shop_abandoned", table_name="journeys")
    op.create_index("ix_journeys_shop_abandoned", "journeys", [*_JOURNEYS_OLD, "conversion_days"])
    op.drop_index("ix_messages_shop_status_journey", table_name="messages")
    op.create_index("ix_messages_shop_status_abandoned", "messages", _BY_STEP)
    op.create_index("ix_attributions_shop_abandoned", "attributions", _CREDITED)


def _backfill_conversions() -> None:
    bind = op.get_bind()
    query = sa.text(_CANDIDATES).columns(
        journey_id=sa.BigInteger, anchor=sa.DateTime, ordered_at=sa.DateTime, same_checkout=sa.Integer
    )
    fewest: dict[int, int] = {}
    for journey_id, anchor, ordered_at, same_checkout in bind.execute(query):
        days = 0 if same_checkout else -((anchor - ordered_at) // timedelta(days=1))
        if days <= _MOST_DAYS and days < fewest.get(journey_id, _MOST_DAYS + 1):
            fewest[journey_id] = days
    update = sa.text("UPDATE journeys SET conversion_days = :days WHERE id = :id")
    rows = [{"id": journey_id, "days": days} for journey_id, days in fewest.items()]
    for start in range(0, len(rows), 5000):
        bind.execute(update, rows[start : start + 5000])


def downgrade() -> None:
    op.drop_index("ix_attributions_shop_abandoned", table_name="attributions")
    op.drop_index("ix_messages_shop_status_abandoned", table_name="messages")
    op.create_index("ix_messages_shop_status_journey", "messages", _BY_STEP_OLD)
    op.drop_index("ix_journeys_shop_abandoned", table_name="journeys")
    op.create_index("ix_journeys_shop_abandoned", "journeys", _JOURNEYS_OLD)
    with op.batch_alter_table("attributions") as batch:
        batch.drop_column("journey_abandoned_at")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("journey_abandoned_at")
    with op.batch_alter_table("journeys") as batch:
        batch.drop_column("conversion_days")
