"""The outbox: the one module that creates message rows and changes their status.

Every status change is one UPDATE guarded by the row's current status (and, for a row a
send job holds, by that job's id), checked first against the moves the domain allows
(`domain.models.TRANSITIONS`). A guard that no longer matches changes nothing and returns
False: another worker, a callback or a cancellation got there first.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from functools import cache
from typing import Any
from typing import cast as typed

from sqlalchemy import (
    ColumnElement,
    String,
    Table,
    Update,
    any_,
    bindparam,
    case,
    cast,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from shop_app.domain.models import (
    FINAL,
    PENDING,
    JourneyStatus,
    PlannedMessage,
    Status,
    Step,
    can_move,
    operator_can_move,
)
from shop_app.errors import ReclaimError
from shop_app.storage.channel_tables import ChannelConnection
from shop_app.storage.database import rows_changed
from shop_app.storage.tables import Journey, Message

#: Reasons are for people; a provider's essay is cut here.
MAX_REASON = 1000


class IllegalTransition(ReclaimError, ValueError):
    """A status move `domain.models.TRANSITIONS` does not allow: a bug, never data."""


def _checked(from_statuses: Iterable[Status], to: Status) -> tuple[str, ...]:
    sources = tuple(from_statuses)
    illegal = [s.value for s in sources if not can_move(s, to)]
    if illegal or not sources:
        raise IllegalTransition(f"a message may not move from {illegal or 'nowhere'} to {to.value}")
    return tuple(s.value for s in sources)


def _values(to: Status, values: dict[str, Any]) -> dict[str, Any]:
    if values.get("reason"):
        values["reason"] = values["reason"][:MAX_REASON]
    return {"status": to.value, **values}


def transition(
    session: Session,
    message_id: int,
    from_statuses: Iterable[Status],
    to: Status,
    *,
    held_by: str | None = None,
    **values: Any,
) -> bool:
    """Move one row from any of `from_statuses` to `to`, setting `values` too; True if it moved.

    `held_by` (a send job's id) also requires the row to be held by that job."""
    where: list[ColumnElement[bool]] = [Message.id == message_id]
    if held_by is not None:
        where.append(Message.job_id == held_by)
    return _move(session, where, from_statuses, to, **values) == 1


def _move(
    session: Session, where: list[ColumnElement[bool]], from_statuses: Iterable[Status], to: Status, **values: Any
) -> int:
    """The one status-changing UPDATE: the rows matching `where` that are in `from_statuses`."""
    in_source = Message.status.in_(_checked(from_statuses, to))
    return _run(session, update(Message).where(*where, in_source).values(_values(to, values)))


def _run(session: Session, statement: Update) -> int:
    """One UPDATE of messages; ORM objects already in the session are not synchronised (callers re-read)."""
    return rows_changed(session, statement.execution_options(synchronize_session=False))


# -- planning ---------------------------------------------------------------------------------


#: Steps a journey may send more than once on a channel, one row per occurrence: an advocate's
#: `reward`, once per friend (the occurrence is the referral_rewards row's id). Every other step
#: has occurrence 0, so one row, one send, per (journey, step, channel).
REPEATABLE_STEPS = frozenset({Step.REWARD})


def add_planned(
    session: Session, shop_id: int, journey_id: int, flow: str, planned: PlannedMessage, *, occurrence: int = 0
) -> Message:
    """A new row for a step the planner wants (`add_planned_rows` writes a whole plan at once). The row is added, not
    flushed; the unique (journey, step, channel, occurrence) refuses a second one at the flush.
    Its journey is now reachable (`Journey.reached`, what the validation cycle counts), and its
    anchor (`Journey.first_due_at`, the earliest planned due time: the report's conversion rule) is
    this row's due time if it is the earliest yet; one UPDATE, a no-op when neither changes."""
    if occurrence != 0 and planned.step not in REPEATABLE_STEPS:
        raise ValueError(f"the {planned.step.value} step is sent once per channel; it has no occurrences")
    with session.no_autoflush:  # rows added before this one keep being flushed together, later
        earlier = or_(Journey.first_due_at.is_(None), Journey.first_due_at > planned.due_at)
        changed = update(Journey).where(Journey.id == journey_id, or_(Journey.reached.is_(False), earlier))
        anchor = case((earlier, literal(planned.due_at, Journey.first_due_at.type)), else_=Journey.first_due_at)
        session.execute(changed.values(reached=True, first_due_at=anchor))
    message = Message(
        shop_id=shop_id,
        journey_id=journey_id,
        flow=flow,
        step=planned.step.value,
        channel=planned.channel.value,
        occurrence=occurrence,
        status=Status.SCHEDULED.value,
        due_at=planned.due_at,
        # The journey's abandonment time, copied for the report's range (recovery/plan_writes.py moves it).
        journey_abandoned_at=select(Journey.abandoned_at).where(Journey.id == journey_id).scalar_subquery(),
    )
    session.add(message)
    return message


def add_planned_rows(
    session: Session, shop_id: int, journey: Journey, flow: str, planned: Sequence[PlannedMessage]
) -> int:
    """`add_planned` for a whole plan at once (the ingest's case): every new row in one INSERT, the
    journey's reach and anchor in one UPDATE unless `journey` holds them already (its replan set them).
    Rows are written, not added to the session; a second is refused (unique key). How many it wrote."""
    if not planned:
        return 0
    earliest = min(message.due_at for message in planned)
    if not (journey.reached and journey.first_due_at is not None and journey.first_due_at <= earliest):
        earlier = or_(Journey.first_due_at.is_(None), Journey.first_due_at > earliest)
        changed = update(Journey).where(Journey.id == journey.id, or_(Journey.reached.is_(False), earlier))
        anchor = case((earlier, literal(earliest, Journey.first_due_at.type)), else_=Journey.first_due_at)
        session.execute(changed.values(reached=True, first_due_at=anchor), execution_options={"autoflush": False})
    rows = [
        {
            "shop_id": shop_id, "journey_id": journey.id, "flow": flow, "step": message.step.value,
            "channel": message.channel.value, "occurrence": 0, "status": Status.SCHEDULED.value,
            "due_at": message.due_at, "journey_abandoned_at": journey.abandoned_at,
        }
        for message in planned
    ]  # fmt: skip
    session.execute(insert(Message), rows)
    return len(rows)


def forget_content(session: Session, finished_before: datetime, limit: int) -> int:
    """Up to `limit` finished rows (sent, failed, skipped, cancelled) due before `finished_before`
    lose what was sent and to whom (recipient, subject, body, the provider's detail); the row and
    its status, step, channel, times and reason stay, which the report and the one-send-per-step
    rule read. How many rows it emptied (jobs/retention.py calls it)."""
    old = (
        select(Message.id)
        .where(
            Message.body.is_not(None),
            Message.due_at < finished_before,
            Message.status.in_([status.value for status in FINAL]),
        )
        .limit(limit)
    )
    statement = update(Message).where(Message.id.in_(old)).values(recipient=None, subject=None, body=None,
                                                                  delivery_detail=None)  # fmt: skip
    return _run(session, statement)


def reschedule(session: Session, message_id: int, due_at: datetime, reason: str) -> bool:
    """A still-scheduled row gets a new due time (the checkout changed); status unchanged."""
    statement = (
        update(Message)
        .where(Message.id == message_id, Message.status == Status.SCHEDULED.value)
        .values(due_at=due_at, reason=reason[:MAX_REASON])
    )
    if _run(session, statement) != 1:
        return False
    # The journey's anchor follows its plan, earlier or later: the earliest due time of its messages.
    journey_id = select(Message.journey_id).where(Message.id == message_id).scalar_subquery()
    first_due = select(func.min(Message.due_at)).where(Message.journey_id == Journey.id).scalar_subquery()
    anchor = update(Journey).where(Journey.id == journey_id).values(first_due_at=first_due)
    session.execute(anchor.execution_options(synchronize_session=False))
    return True


def cancel_pending(session: Session, shop_id: int, reason: str, *, journey_ids: Iterable[int] | None = None) -> int:
    """Cancel every row not yet handed to a send job's provider call; returns how many."""
    where: list[ColumnElement[bool]] = [Message.shop_id == shop_id]
    if journey_ids is not None:
        where.append(Message.journey_id.in_(list(journey_ids)))
    return _move(session, where, PENDING, Status.CANCELLED, reason=reason)


# -- the dispatcher and the reconciler ---------------------------------------------------------


def queue(session: Session, message_id: int, job_id: str, now: datetime) -> bool:
    """`scheduled → queued`, held by the send job `job_id` from now on."""
    return transition(session, message_id, [Status.SCHEDULED], Status.QUEUED, queued_at=now, job_id=job_id)


def claim_due(
    session: Session, now: datetime, limit: int, job_prefix: str, group_size: int = 1
) -> list[tuple[str, list[int]]]:
    """`scheduled → queued` for up to `limit` rows due by `now`, oldest first, in one statement,
    grouped by shop in runs of at most `group_size` (issue 13): (job id, message ids) of each group,
    every row of a group held by its one send job, `job_prefix` followed by the group's first id,
    so a batch needs one fresh prefix, not one id per row. The claim gives each row its own id;
    a second UPDATE moves the other rows of each group of more than one to the group's id.

    PostgreSQL locks the chosen rows and skips rows another dispatcher has locked (FOR UPDATE
    SKIP LOCKED, over ix_messages_status_due); the outer status guard still holds if a row moved
    between the choice and the UPDATE. SQLite has no row locks but runs one writer at a time."""
    due = (
        select(Message.id)
        .where(Message.status == Status.SCHEDULED.value, Message.due_at <= now)
        .order_by(Message.due_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    if session.get_bind().dialect.name == "postgresql":
        # `id = ANY(ARRAY(SELECT …))`: the choice runs once (an InitPlan) and the rows are then
        # found by primary key. As `IN (SELECT … LIMIT n FOR UPDATE SKIP LOCKED)` PostgreSQL may
        # rescan the choice per row it updates, and a rescan skips the rows this statement already
        # changed and takes the next ones: far more than `limit` in one batch.
        chosen = Message.id == any_(func.array(due.scalar_subquery()))
    else:
        chosen = Message.id.in_(due.scalar_subquery())
    in_source = Message.status.in_(_checked([Status.SCHEDULED], Status.QUEUED))
    job_id = literal(job_prefix, String) + cast(Message.id, String)
    statement = (
        update(Message)
        .where(chosen, in_source)
        .values(_values(Status.QUEUED, {"queued_at": now, "job_id": job_id}))
        .returning(Message.id, Message.shop_id)
        .execution_options(synchronize_session=False)
    )
    by_shop: dict[int, list[int]] = {}
    for message_id, shop_id in session.execute(statement):
        by_shop.setdefault(shop_id, []).append(message_id)
    groups = [
        (f"{job_prefix}{ids[start]}", ids[start : start + group_size])
        for ids in (sorted(found) for found in by_shop.values())
        for start in range(0, len(ids), group_size)
    ]
    joined = [(job, ids[1:]) for job, ids in groups if len(ids) > 1]
    if joined:
        regroup = case(*((Message.id.in_(others), literal(job, String)) for job, others in joined))
        others = [message_id for _, ids in joined for message_id in ids]
        session.execute(
            update(Message).where(Message.id.in_(others)).values(job_id=regroup)
            .execution_options(synchronize_session=False)
        )  # fmt: skip
    return groups


def queued_jobs(session: Session) -> list[tuple[int, str | None, int, datetime | None]]:
    """(message id, job id, job failures, queued at) of every queued row: the reconciler checks
    each job is alive (a row queued just now may have its enqueue still on the way)."""
    query = select(Message.id, Message.job_id, Message.job_failures, Message.queued_at).where(
        Message.status == Status.QUEUED.value
    )
    return [(message_id, job_id, failures, at) for message_id, job_id, failures, at in session.execute(query)]


def hand_over(session: Session, message_id: int, lost_job: str | None, new_job: str) -> bool:
    """A queued row whose job was lost is held by a new job (status unchanged). The lost run is
    counted by `count_lost_runs` once the new job is in Redis: a hand-over whose enqueue never
    happens costs no attempt."""
    statement = (
        update(Message)
        .where(Message.id == message_id, Message.status == Status.QUEUED.value, Message.job_id == lost_job)
        .values(job_id=new_job)
    )
    return _run(session, statement) == 1


def count_lost_runs(session: Session, message_ids: Sequence[int]) -> None:
    """One job failure on each row whose lost job was replaced by one now enqueued (`hand_over`)."""
    if message_ids:
        _run(session, update(Message).where(Message.id.in_(message_ids)).values(job_failures=Message.job_failures + 1))


def give_up(session: Session, message_id: int, job_id: str | None, reason: str) -> bool:
    """`queued → failed`: its send jobs broke or were lost MAX_JOB_ATTEMPTS times."""
    return _move(
        session, [Message.id == message_id, Message.job_id == job_id], [Status.QUEUED], Status.FAILED,
        job_failures=Message.job_failures + 1, job_id=None, reason=reason,
    ) == 1  # fmt: skip


def expire_sending(session: Session, lease_end: datetime, reason: str) -> int:
    """Rows left `sending` since before `lease_end` become `unknown`: never resent."""
    return _move(session, [Message.sending_at < lease_end], [Status.SENDING], Status.UNKNOWN, reason=reason)


# -- the send job ------------------------------------------------------------------------------


def postpone(session: Session, message_id: int, job_id: str, until: datetime, reason: str) -> bool:
    """`queued → scheduled` at `until`, released by the job that held it."""
    return transition(
        session, message_id, [Status.QUEUED], Status.SCHEDULED, held_by=job_id, due_at=until, job_id=None,
        reason=reason,
    )  # fmt: skip


def job_failed(session: Session, message_id: int, job_id: str, retry_at: datetime | None, reason: str) -> bool:
    """The send job holding the row broke before its claim: `queued → scheduled` at `retry_at`
    (the dispatcher runs it again), or `queued → failed` when `retry_at` is None (no attempts left)."""
    values: dict[str, Any] = {"job_failures": Message.job_failures + 1, "job_id": None, "reason": reason}
    if retry_at is None:
        return transition(session, message_id, [Status.QUEUED], Status.FAILED, held_by=job_id, **values)
    return transition(session, message_id, [Status.QUEUED], Status.SCHEDULED, held_by=job_id, due_at=retry_at,
                      **values)  # fmt: skip


def settle(session: Session, message_id: int, job_id: str, to: Status, reason: str) -> bool:
    """A queued row that will not be sent: `skipped` (this message) or `cancelled` (the journey)."""
    return transition(session, message_id, [Status.QUEUED], to, held_by=job_id, reason=reason)


def claim(
    session: Session, message_id: int, job_id: str, now: datetime, *, recipient: str | None,
    subject: str | None, body: str, note: str | None, provided: Iterable[ColumnElement[bool]] = (),
) -> bool:  # fmt: skip
    """`queued → sending`, committed before the provider is called: a crash leaves `sending`,
    which the reconciler turns into `unknown`, never a resend. One UPDATE, which also checks
    what the caller `provided` (its journey still active…): False when any of it no longer holds."""
    where = [Message.id == message_id, Message.job_id == job_id, *provided]
    return _move(
        session, where, [Status.QUEUED], Status.SENDING, sending_at=now, attempts=Message.attempts + 1,
        recipient=recipient, subject=subject, body=body, reason=note,
    ) == 1  # fmt: skip


def mark_sent(session: Session, message_id: int, now: datetime, provider_id: str | None, delivery: str | None) -> bool:
    """`sending`/`unknown → sent`. A provider id or delivery status a quicker callback already
    recorded is kept (delivery statuses only move forward; the caller computes `delivery`)."""
    values: dict[str, Any] = {"sent_at": now}
    if provider_id:
        values["provider_id"] = func.coalesce(Message.provider_id, provider_id)
    if delivery:
        values["delivery_status"] = delivery
    return transition(session, message_id, [Status.SENDING, Status.UNKNOWN], Status.SENT, **values)


#: The send path's statements are Core ones on the table: none of the ORM's per-execute work.
_MESSAGES = typed(Table, Message.__table__)


def claim_send(
    session: Session, message_id: int, job_id: str, now: datetime, *, recipient: str | None,
    subject: str | None, body: str, note: str | None, twilio: tuple[int, str] | None,
) -> bool:  # fmt: skip
    """`claim` for the send job, its journey still active and, for a route from the shop's Twilio connection
    `twilio` (id, secret), that one still the shop's. Built once per process, parameters bound (b_*: SQLAlchemy
    keeps a column's own name for its SET): neither the statement nor its cache key is rebuilt per send."""
    params = {"b_message_id": message_id, "b_job_id": job_id, "b_now": now, "b_recipient": recipient,
              "b_subject": subject, "b_body": body, "b_note": note[:MAX_REASON] if note else note}  # fmt: skip
    if twilio is not None:
        params["b_twilio_id"], params["b_twilio_secret"] = twilio
    return typed(CursorResult[Any], session.execute(_claim_statement(twilio is not None), params)).rowcount == 1


@cache
def _claim_statement(with_twilio: bool) -> Update:
    m, journeys = _MESSAGES.c, Journey.__table__.c
    active = exists().where(journeys.id == m.journey_id, journeys.status == JourneyStatus.ACTIVE.value)
    where = [m.id == bindparam("b_message_id"), m.job_id == bindparam("b_job_id"), active]
    if with_twilio:
        twilio = ChannelConnection.__table__.c
        where += [exists().where(twilio.id == bindparam("b_twilio_id"), twilio.secret == bindparam("b_twilio_secret"))]
    values: dict[str, Any] = {name: bindparam(f"b_{name}") for name in ("recipient", "subject", "body")}
    values |= {"sending_at": bindparam("b_now"), "attempts": m.attempts + 1, "reason": bindparam("b_note")}
    where.append(m.status.in_(_checked([Status.QUEUED], Status.SENDING)))
    return update(_MESSAGES).where(*where).values(status=Status.SENDING.value, **values)


def mark_first_sent(
    session: Session, message_id: int, now: datetime, provider_id: str | None, delivery: str | None
) -> bool:
    """`mark_sent` for the usual case, a row no callback has told anything yet (no delivery status): one UPDATE
    … RETURNING (built once, as claim_send's); False for another row (the caller uses `mark_sent`).

    On PostgreSQL the UPDATE also relaxes its transaction's commit (`synchronous_commit` off for this
    transaction only, set in its RETURNING, so only once the row is marked): COMMIT does not wait for the
    disk (~2 ms a message on this machine's, issue 13). A database crash within a few hundred
    milliseconds may then lose the record, never corrupt anything: the row, claimed `sending` by a
    synchronous commit before the provider was called, becomes `unknown` (the reconciler), never sent again."""
    params = {"b_message_id": message_id, "b_now": now, "b_delivery": delivery, "b_provider_id": provider_id}
    relaxed = session.get_bind().dialect.name == "postgresql"
    return session.execute(_first_sent_statement(bool(provider_id), relaxed), params).first() is not None


@cache
def _first_sent_statement(with_provider_id: bool, relaxed: bool) -> Update:
    m = _MESSAGES.c
    values: dict[str, Any] = {"sent_at": bindparam("b_now"), "delivery_status": bindparam("b_delivery")}
    if with_provider_id:
        values["provider_id"] = func.coalesce(m.provider_id, bindparam("b_provider_id"))
    where = (m.id == bindparam("b_message_id"), m.status.in_(_checked([Status.SENDING, Status.UNKNOWN], Status.SENT)))
    statement = update(_MESSAGES).where(*where, m.delivery_status.is_(None))
    relax = (func.set_config("synchronous_commit", "off", True),) if relaxed else ()
    return statement.values(status=Status.SENT.value, **values).returning(m.id, *relax)


def mark_failed(session: Session, message_id: int, reason: str) -> bool:
    """`sending`/`unknown → failed`: the provider refused for good."""
    return transition(session, message_id, [Status.SENDING, Status.UNKNOWN], Status.FAILED, reason=reason)


def mark_unknown(session: Session, message_id: int, reason: str) -> bool:
    """`sending → unknown`: the provider call broke after it may have sent."""
    return transition(session, message_id, [Status.SENDING], Status.UNKNOWN, reason=reason)


def retry(session: Session, message_id: int, due_at: datetime, reason: str) -> bool:
    """`sending → scheduled`: a transient failure known not to have delivered."""
    return transition(session, message_id, [Status.SENDING], Status.SCHEDULED, due_at=due_at, job_id=None,
                      reason=reason)  # fmt: skip


# -- the operator ------------------------------------------------------------------------------

#: What an operator may send again (`reclaim retry`): domain.models.OPERATOR_MOVES.
RETRYABLE = (Status.FAILED, Status.UNKNOWN)


def retry_by_operator(session: Session, message_id: int, due_at: datetime, reason: str) -> bool:
    """`failed`/`unknown → scheduled` at `due_at`: an operator's explicit decision, with their
    reason; True if it moved. The row goes out again as a fresh one: no job holds it, its job
    failures count from zero, and the last attempt's provider id, delivery status and times are
    cleared, so the new send's callbacks find it. Its journey's anchor (first_due_at) stays."""
    illegal = [s.value for s in RETRYABLE if not operator_can_move(s, Status.SCHEDULED)]
    if illegal:
        raise IllegalTransition(f"an operator may not move a message from {illegal} to scheduled")
    values = {"due_at": due_at, "job_id": None, "job_failures": 0, "queued_at": None, "sending_at": None,
              "sent_at": None, "provider_id": None, "delivery_status": None, "reason": reason}  # fmt: skip
    where = (Message.id == message_id, Message.status.in_([s.value for s in RETRYABLE]))
    return _run(session, update(Message).where(*where).values(_values(Status.SCHEDULED, values))) == 1


# -- provider callbacks ------------------------------------------------------------------------


def settle_unknown(session: Session, message_id: int, to: Status, now: datetime, reason: str | None) -> bool:
    """A row we never heard the provider's answer for (`unknown`), settled by its callback."""
    values: dict[str, Any] = {"reason": reason}
    if to is Status.SENT:
        values["sent_at"] = now
    return transition(session, message_id, [Status.UNKNOWN], to, **values)


# -- privacy -----------------------------------------------------------------------------------


def forget_contents(session: Session, shop_id: int, message_ids: Iterable[int]) -> None:
    """A redacted customer's messages keep their history (status, reason) but not what they said or to whom."""
    where = (Message.shop_id == shop_id, Message.id.in_(list(message_ids)))
    _run(session, update(Message).where(*where).values(recipient=None, subject=None, body=None))
