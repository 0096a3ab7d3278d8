"""an advocate's every reward has a message of its own (issue 11): messages.occurrence

Revision ID: 0014
Revises: 0013

Messages were unique per (journey, step, channel), so an advocate's second reward (a second
friend's first order with the code) was recorded with no message to announce it.

- messages.occurrence: 0 for every step, except a referral `reward` message, whose occurrence is
  the id of the referral_rewards row it announces (existing reward messages get theirs here);
- the unique constraint uq_messages_journey_step_channel becomes
  uq_messages_journey_step_channel_occurrence (journey, step, channel, occurrence): one send per
  (journey, step, channel) for every other step, one per reward for `reward`;
- ck_messages_occurrence_reward_only: only a `reward` row may have an occurrence other than 0.

The downgrade restores the old constraint, which cannot hold an advocate's second reward
message: it stops, naming how many journeys have one, rather than delete messages.
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

REWARD = "reward"


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("occurrence", sa.Integer(), nullable=False, server_default="0"))
        batch.drop_constraint("uq_messages_journey_step_channel", type_="unique")
        batch.create_unique_constraint(
            "uq_messages_journey_step_channel_occurrence", ["journey_id", "step", "channel", "occurrence"]
        )
    messages = sa.table("messages", sa.column("id"), sa.column("step"), sa.column("occurrence"))
    rewards = sa.table("referral_rewards", sa.column("id"), sa.column("message_id"))
    reward_of_message = sa.select(rewards.c.id).where(rewards.c.message_id == messages.c.id).scalar_subquery()
    op.execute(
        messages.update()
        .where(messages.c.step == REWARD, messages.c.id.in_(sa.select(rewards.c.message_id)))
        .values(occurrence=reward_of_message)
    )
    with op.batch_alter_table("messages") as batch:
        batch.create_check_constraint("ck_messages_occurrence_reward_only", f"occurrence = 0 OR step = '{REWARD}'")


def downgrade() -> None:
    messages = sa.table(
        "messages", sa.column("journey_id"), sa.column("step"), sa.column("channel"), sa.column("occurrence")
    )
    repeated = (
        sa.select(messages.c.journey_id)
        .group_by(messages.c.journey_id, messages.c.step, messages.c.channel)
        .having(sa.func.count() > 1)
        .subquery()
    )
    count = op.get_bind().execute(sa.select(sa.func.count()).select_from(repeated)).scalar_one()
    if count:
        raise RuntimeError(
            f"cannot downgrade below 0014: {count} journey step(s) have more than one message per channel "
            "(an advocate's later rewards), which the unique constraint before 0014 cannot hold"
        )
    with op.batch_alter_table("messages") as batch:
        batch.drop_constraint("ck_messages_occurrence_reward_only", type_="check")
        batch.drop_constraint("uq_messages_journey_step_channel_occurrence", type_="unique")
        batch.drop_column("occurrence")
        batch.create_unique_constraint("uq_messages_journey_step_channel", ["journey_id", "step", "channel"])
