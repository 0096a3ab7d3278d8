"""The send job benchmark's proof that the work was really done (bench/send_job.py runs it)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any, Protocol

from sqlalchemy import Row, select

from shop_app import runtime
from shop_app.devtools.admin_api import AdminApiServer
from shop_app.devtools.twilio_api import CREATE_MESSAGE, TwilioApiServer
from shop_app.domain.models import Status
from shop_app.storage.database import transaction
from shop_app.storage.tables import Discount, Message


class Answered(Protocol):
    """The jobs of a run and what they returned (the send jobs: what became of their rows)."""

    job_ids: list[str]
    messages: int
    answers: Counter[str]


def check_work_done(
    rt: runtime.Runtime,
    shop_ids: list[int],
    admin: AdminApiServer,
    twilio: TwilioApiServer,
    floor: Answered,
    real: Answered,
    admin_waits: list[float],
    total: int,
) -> None:
    """Every message sent once: one Twilio create and one code each, one payment check per shop per
    batch job; every job answered."""
    problems = answer_problems(floor, real)
    with transaction(rt.sessions) as session:
        rows = session.execute(
            select(
                Message.id,
                Message.journey_id,
                Message.status,
                Message.attempts,
                Message.provider_id,
                Message.delivery_status,
                Message.body,
            ).where(Message.shop_id.in_(shop_ids))
        ).all()
        codes = dict(
            session.execute(
                select(Discount.journey_id, Discount.code).where(
                    Discount.shop_id.in_(shop_ids), Discount.shopify_id.is_not(None)
                )
            ).all()
        )  # created in Shopify
    problems += row_problems(rows, total)
    problems += twilio_problems(twilio, rows, total)
    problems += admin_problems(admin, admin_waits, rows, codes, total, len(real.job_ids))
    if problems:
        raise RuntimeError("the send jobs did not do the work:\n  - " + "\n  - ".join(problems))


def answer_problems(floor: Answered, real: Answered) -> list[str]:
    """Every no-op job answered "ok"; every message of the send jobs is `sent`."""
    problems = []
    if floor.answers != Counter({"ok": len(floor.job_ids)}):
        problems.append(f"the no-op jobs answered {dict(floor.answers)}")
    if real.answers != Counter({"sent": real.messages}):
        problems.append(f"the send jobs left their rows {dict(real.answers)}")
    return problems


def row_problems(rows: Sequence[Row[Any]], total: int) -> list[str]:
    """One message row per message, each sent once, each with Twilio's first word on its delivery."""
    problems = []
    if len(rows) != total:
        problems.append(f"{len(rows)} message rows, not {total}")
    unsent = [r for r in rows if r.status != Status.SENT.value or r.attempts != 1 or not r.provider_id]
    if unsent:
        problems.append(
            f"{len(unsent)} messages not sent exactly once, e.g. {unsent[0].status!r} "
            f"after {unsent[0].attempts} attempt(s)"
        )
    unsaid = sum(1 for r in rows if not r.delivery_status)
    if unsaid:
        problems.append(f"{unsaid} messages without Twilio's first word on their delivery")
    return problems


def twilio_problems(twilio: TwilioApiServer, rows: Sequence[Row[Any]], total: int) -> list[str]:
    """Twilio accepted every request, and exactly one message per row, with the row's provider id."""
    problems = []
    refused = twilio.refused
    if refused:
        problems.append(f"the Twilio server refused {len(refused)} requests, first: {refused[0].problems}")
    not_ok = [r for r in twilio.requests if r.outcome != "ok"]
    if not_ok:
        problems.append(f"{len(not_ok)} Twilio requests were not answered ok, first: {not_ok[0].answer}")
    creates = [r for r in twilio.requests if r.operation == CREATE_MESSAGE]
    accepted = {int(m.status_callback.rsplit("/", 1)[-1]): m.sid for m in twilio.messages}  # message id -> sid
    if len(creates) != total or len(twilio.messages) != total:
        problems.append(f"{len(creates)} Twilio creates, {len(twilio.messages)} messages accepted, for {total} rows")
    if accepted != {r.id: r.provider_id for r in rows}:
        problems.append("the messages Twilio accepted are not one per row, with the row's provider id")
    return problems


def admin_problems(
    admin: AdminApiServer,
    admin_waits: list[float],
    rows: Sequence[Row[Any]],
    codes: dict[Any, Any],
    total: int,
    batches: int,
) -> list[str]:
    """One payment check and one request for the codes per batch job (each holds one shop's messages,
    fewer than one search's or one request's bound), one discount code per message, none failed or
    retried, each code in its message."""
    problems = []
    checks = admin.graphql_requests("OrdersForPaymentCheck")
    requests = admin.graphql_requests("DiscountCodesCreate")
    creates = [alias for r in requests for alias in (r.answer.get("data") or {})]  # one aliased create a code
    failed = [r for r in admin.graphql_requests() if r.status != 200 or "errors" in r.answer]
    if failed:
        problems.append(f"{len(failed)} Admin API requests failed or were throttled, first: {failed[0].answer}")
    if admin_waits:
        problems.append(f"the Admin API client waited {len(admin_waits)} times before retrying")
    if len(checks) != batches or len(requests) != batches or len(creates) != total or len(codes) != total:
        problems.append(
            f"{len(checks)} payment checks and {len(requests)} code requests for {batches} batch jobs, and "
            f"{len(creates)} discount creates ({len(codes)} codes recorded) for {total} messages"
        )
    without_code = [r.id for r in rows if r.journey_id not in codes or codes[r.journey_id] not in (r.body or "")]
    if without_code:
        problems.append(f"{len(without_code)} messages went out without their own code")
    return problems
