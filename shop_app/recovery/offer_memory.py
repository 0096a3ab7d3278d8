"""When a person last received a recovery code: the lookup behind the discount memory
(domain/discount_memory.py decides what it means).

A code was *received* when a recovery message of a step that has a code (its `discounts` row, one
per journey step) went out, or may have (`sending`, `unknown`: a missed offer beats a second one).
A code reserved but never sent (the customer paid meanwhile, the message was refused) does not count.
The person is matched as the payment rule matches a customer (orders.equal_where_given): the same
customer id, email or phone on the checkout, where given. The journey asking is left out: its own
steps share its offer.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Select, and_, bindparam, func, or_, select
from sqlalchemy.orm import Session

from shop_app.domain.models import UNDER_WAY, Checkout, Flow
from shop_app.recovery.orders import equal_where_given
from shop_app.storage.tables import CheckoutRow, Discount, Journey, Message


def last_code_sent(session: Session, shop_id: int, journey_id: int, checkout: Checkout) -> datetime | None:
    """The newest time a message carrying a recovery code went to this checkout's person from
    another journey of the shop, or None."""
    query = last_code_sent_query(shop_id, journey_id, checkout)
    return None if query is None else session.scalar(query)


def last_code_sent_query(shop_id: int, journey_id: int, checkout: Checkout) -> Select[datetime] | None:
    """`last_code_sent`'s statement (None: the checkout names nobody, so nobody was sent a code)."""
    same_person = equal_where_given(
        (CheckoutRow.customer_id, checkout.customer_id),
        (CheckoutRow.email, checkout.email),
        (CheckoutRow.phone, checkout.phone),
    )
    return _query(shop_id, journey_id, same_person) if same_person else None


_PERSON = ("customer_id", "email", "phone")


def last_code_sent_bound(checkout: Checkout) -> tuple[Select[datetime] | None, dict[str, Any]]:
    """`last_code_sent_query` for a caller that runs it often (the send job): built once per process
    for each shape of the checkout (which of its person's keys are known), its values bound: the
    statement (None: nobody named) to run with the returned values and b_mem_shop, b_mem_journey."""
    values = (checkout.customer_id, checkout.email, checkout.phone)
    known = tuple(bool(value) for value in values)
    if not any(known):
        return None, {}
    return _bound(known), {f"b_mem_{k}": v for k, v, given in zip(_PERSON, values, known, strict=True) if given}


@cache
def _bound(known: tuple[bool, ...]) -> Select[datetime]:
    columns = (CheckoutRow.customer_id, CheckoutRow.email, CheckoutRow.phone)
    same = [
        column == bindparam(f"b_mem_{key}") for column, key, given in zip(columns, _PERSON, known, strict=True) if given
    ]
    return _query(bindparam("b_mem_shop"), bindparam("b_mem_journey"), same)


def _query(shop_id: Any, journey_id: Any, same_person: list[Any]) -> Select[datetime]:
    return (
        select(func.max(func.coalesce(Message.sent_at, Message.sending_at)))
        .select_from(CheckoutRow)
        .join(Journey, and_(Journey.checkout_id == CheckoutRow.id, Journey.flow == Flow.RECOVERY.value))
        .join(Message, Message.journey_id == Journey.id)
        .join(Discount, and_(Discount.journey_id == Message.journey_id, Discount.step == Message.step))
        .where(
            CheckoutRow.shop_id == shop_id,
            or_(*same_person),
            Journey.id != journey_id,
            Message.status.in_([status.value for status in UNDER_WAY]),
        )
    )
