"""the Referral Generation Flow (issue 11): profile origin, referral journeys, advocates and rewards

Revision ID: 0011
Revises: 0010

- profiles.origin is `captured` or `imported`; how a captured profile reached us moves to
  profiles.captured_by (checkout | order | push | customer): the old origins checkout, signup and
  capture become captured (checkout keeps its name in captured_by; signup and capture were never
  written, and read as `customer` and `push`);
- a referral journey names its advocate's profile and its triggering order, and no checkout:
  journeys.checkout_id becomes nullable, journeys gain profile_id and trigger_order_id, one
  journey per (profile, flow);
- referral_advocates (one per profile and shop, with the personal code once created) and
  referral_rewards (one decision per friend's order).
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

_CAPTURED_BY = {"checkout": "checkout", "signup": "customer", "capture": "push"}


def upgrade() -> None:
    with op.batch_alter_table("profiles") as batch:
        batch.add_column(sa.Column("captured_by", sa.String(length=16), nullable=True))
    profiles = sa.table("profiles", sa.column("origin", sa.String), sa.column("captured_by", sa.String))
    for old, by in _CAPTURED_BY.items():
        op.execute(profiles.update().where(profiles.c.origin == old).values(origin="captured", captured_by=by))
    with op.batch_alter_table("journeys") as batch:
        batch.alter_column("checkout_id", existing_type=_ID, nullable=True)
        batch.add_column(sa.Column("profile_id", _ID, nullable=True))
        batch.add_column(sa.Column("trigger_order_id", _ID, nullable=True))
        batch.create_foreign_key("fk_journeys_profile_id", "profiles", ["profile_id"], ["id"], ondelete="CASCADE")
        batch.create_foreign_key(
            "fk_journeys_trigger_order_id", "orders", ["trigger_order_id"], ["id"], ondelete="SET NULL"
        )
        batch.create_unique_constraint("uq_journeys_profile_flow", ["profile_id", "flow"])
    _create_advocates()
    _create_rewards()


def _create_advocates() -> None:
    op.create_table(
        "referral_advocates",
        sa.Column("id", _ID, nullable=False),
        sa.Column("shop_id", _ID, nullable=False),
        sa.Column("profile_id", _ID, nullable=False),
        sa.Column("journey_id", _ID, nullable=False),
        sa.Column("order_id", _ID, nullable=True),
        sa.Column("code", sa.String(length=64), nullable=True),
        sa.Column("code_discount_id", sa.String(length=128), nullable=True),
        sa.Column("code_created_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["profile_id"], ["profiles.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["journey_id"], ["journeys.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("shop_id", "profile_id", name="uq_referral_advocates_shop_profile"),
        sa.UniqueConstraint("shop_id", "code", name="uq_referral_advocates_shop_code"),
    )
    op.create_index("ix_referral_advocates_shop_id", "referral_advocates", ["shop_id"])


def _create_rewards() -> None:
    op.create_table(
        "referral_rewards",
        sa.Column("id", _ID, nullable=False),
        sa.Column("shop_id", _ID, nullable=False),
        sa.Column("advocate_id", _ID, nullable=False),
        sa.Column("friend_order_id", _ID, nullable=False),
        sa.Column("friend_profile_id", _ID, nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("reward_code", sa.String(length=64), nullable=True),
        sa.Column("reward_discount_id", sa.String(length=128), nullable=True),
        sa.Column("message_id", _ID, nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["advocate_id"], ["referral_advocates.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["friend_order_id"], ["orders.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["friend_profile_id"], ["profiles.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["message_id"], ["messages.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("friend_order_id", name="uq_referral_rewards_friend_order"),
    )
    op.create_index("ix_referral_rewards_shop_id", "referral_rewards", ["shop_id"])
    op.create_index("ix_referral_rewards_advocate_id", "referral_rewards", ["advocate_id"])


def downgrade() -> None:
    op.drop_table("referral_rewards")
    op.drop_table("referral_advocates")
    op.execute("DELETE FROM journeys WHERE checkout_id IS NULL")
    with op.batch_alter_table("journeys") as batch:
        batch.drop_constraint("uq_journeys_profile_flow", type_="unique")
        batch.drop_constraint("fk_journeys_trigger_order_id", type_="foreignkey")
        batch.drop_constraint("fk_journeys_profile_id", type_="foreignkey")
        batch.drop_column("trigger_order_id")
        batch.drop_column("profile_id")
        batch.alter_column("checkout_id", existing_type=_ID, nullable=False)
    op.execute("UPDATE profiles SET origin = COALESCE(captured_by, 'checkout') WHERE origin = 'captured'")
    with op.batch_alter_table("profiles") as batch:
        batch.drop_column("captured_by")
