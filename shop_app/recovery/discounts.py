"""The discount code a journey step promises: at most one per step, whichever mode.

- `shared`: the code the merchant created in Shopify and typed into the settings.
- `unique`: a single-use, unguessable code created for this message through the
  Admin API, restricted to the customer when Shopify knows them, expiring.

A unique code is reserved in the database before Shopify is asked, so a retried
job asks for the same code again; if Shopify already has it (the first answer was
lost), the code is ours — nobody else can guess it — and its id is recorded.

The send job reserves in the transaction that read its facts (`reserve`, once the gates
said send) and records Shopify's id in its claim's transaction (`StepCode.created`,
`record_created`) rather than in transactions of their own (issue 13): if the claim's
transaction is lost, the row stays reserved without an id and the next try finds the code
in Shopify, as above. A batch send job reserves all its messages' codes in one INSERT
(`reserve_many`), has Shopify make them in one request (`codes_for`) and records their ids in
one UPDATE before its claims (`record_many`; if that breaks, each claim records its own). A
reservation Shopify never saw is released when the message will not go out because Shopify says
the customer paid (`release`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import bindparam, delete, exists, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.dml import ReturningInsert

from shop_app.adapters.shopify_admin import AdminClient
from shop_app.adapters.shopify_admin_codes import CreatedDiscount
from shop_app.domain.discounts import DiscountSpec, default_expiry, random_bytes_needed, unguessable_code
from shop_app.domain.models import UNDER_WAY
from shop_app.domain.settings import Incentive
from shop_app.errors import DiscountCodeTaken, DiscountUnavailable, ReclaimError
from shop_app.storage.database import transaction
from shop_app.storage.tables import Discount, Message

CODE_PREFIX = {"first": "BACK", "whatsapp": "BACK", "prime": "PRIME"}


@dataclass(frozen=True)
class StepOffer:
    """Who the code is for: one journey step of one shop's checkout."""

    shop_id: int
    journey_id: int
    step: str
    checkout_token: str
    customer_id: str | None
    incentive: Incentive
    #: Why the step carries no new code although its incentive offers one (the discount memory,
    #: domain/discount_memory.py); None: as the settings say.
    withheld: str | None = None


@dataclass(frozen=True)
class StepCode:
    """The code a message carries, and when it stops working (None: the merchant's own code)."""

    code: str
    expires_at: datetime | None
    #: Shopify's id of a code created just now, for the caller to `record_created` (code_for(record=False)).
    created: str | None = None


@dataclass(frozen=True)
class Reserved:
    """The step's code as reserved: the code, its expiry, Shopify's id once created there."""

    code: str
    expires_at: datetime | None
    shopify_id: str | None


def reserve(session: Session, offer: StepOffer, now: datetime) -> Reserved | None:
    """The step's code reserved in the caller's transaction; None when the step offers none now."""
    if not offer.incentive.offered or offer.withheld:
        return None
    return _reserve(session, offer, now)


def release(session: Session, offer: StepOffer) -> None:
    """Forget the step's reservation if Shopify never saw it and no message of the step is under way."""
    under_way = exists().where(
        Message.journey_id == offer.journey_id,
        Message.step == offer.step,
        Message.status.in_([status.value for status in UNDER_WAY]),
    )
    session.execute(
        delete(Discount).where(
            Discount.journey_id == offer.journey_id,
            Discount.step == offer.step,
            Discount.shopify_id.is_(None),
            ~under_way,
        )
    )


def code_for(
    sessions: sessionmaker[Session],
    client: AdminClient | None,
    offer: StepOffer,
    now: datetime,
    *,
    record: bool = True,
    reserved: Reserved | None = None,
) -> StepCode | None:
    """The code to put in the message, or None when the step offers nothing (or withholds its offer).
    With `record` False, a code created now comes back with its Shopify id (`created`) for the
    caller to record in its own transaction; with `reserved`, the caller reserved it already.

    Raises DiscountUnavailable (or an Admin API error) when a unique code cannot be
    created now: the caller postpones the message rather than send it without.
    """
    incentive = offer.incentive
    if not incentive.offered or offer.withheld:
        return None
    if reserved is None:
        with transaction(sessions) as session:
            reserved = _reserve(session, offer, now)
    code, expires_at = reserved.code, reserved.expires_at
    if incentive.code_mode == "shared" or reserved.shopify_id:
        return StepCode(code, expires_at)
    if client is None:
        raise DiscountUnavailable("the Admin API is not reachable for this shop")
    shopify_id: str | None
    try:
        shopify_id = client.create_discount_code(_spec(offer, reserved, now)).id
    except DiscountCodeTaken:
        shopify_id = _ours(client, code)
    if not record:
        return StepCode(code, expires_at, created=shopify_id)
    with transaction(sessions) as session:
        record_created(session, offer, shopify_id)
    return StepCode(code, expires_at)


def needs_creating(offer: StepOffer, reserved: Reserved | None) -> bool:
    """Whether the step's code is a unique one Shopify has not confirmed yet (`codes_for` makes it)."""
    return reserved is not None and offer.incentive.code_mode == "unique" and not reserved.shopify_id


def codes_for(
    client: AdminClient, wanted: list[tuple[StepOffer, Reserved]], now: datetime
) -> list[StepCode | ReclaimError]:
    """The batch send job's codes (issue 13), each `needs_creating`, made in Shopify in one request
    where they fit: for each, in order, the code with its Shopify id (`created`, for the caller's claim
    to record), or why Shopify would not make it now (a request it could not answer: each of that
    request's codes, whose fate is then unknown; each is found, or made, on the next try)."""
    made = client.create_discount_codes([_spec(offer, reserved, now) for offer, reserved in wanted])
    codes: list[StepCode | ReclaimError] = []
    for (_offer, reserved), result in zip(wanted, made, strict=True):
        if isinstance(result, DiscountCodeTaken):
            try:
                result = CreatedDiscount(_ours(client, reserved.code), reserved.code)
            except ReclaimError as error:  # DiscountUnavailable, or the lookup failed
                result = error
        if isinstance(result, ReclaimError):
            codes.append(result)
        else:
            codes.append(StepCode(reserved.code, reserved.expires_at, created=result.id))
    return codes


def record_created(session: Session, offer: StepOffer, shopify_id: str | None) -> None:
    """Shopify's id of the step's code, created in Shopify: one UPDATE (`record_many`'s, for one)."""
    record_many(session, [(offer, shopify_id)])


def record_many(session: Session, created: list[tuple[StepOffer, str | None]]) -> None:
    """`record_created` for a batch's codes (issue 13): one executemany UPDATE, keyed like the reservations."""
    if not created:
        return
    keyed = update(Discount).where(
        Discount.shop_id == bindparam("shop"), Discount.journey_id == bindparam("j"), Discount.step == bindparam("s")
    )
    rows = [{"shop": o.shop_id, "j": o.journey_id, "s": o.step, "made": shopify_id} for o, shopify_id in created]
    session.connection().execute(keyed.values(shopify_id=bindparam("made")), rows)


def _spec(offer: StepOffer, reserved: Reserved, now: datetime) -> DiscountSpec:
    """The unique code `reserved` for `offer`, as Shopify is asked to make it, valid from `now`."""
    incentive = offer.incentive
    return DiscountSpec(
        kind=incentive.type,
        value=incentive.value,
        code=reserved.code,
        title=f"Reclaim {offer.step} offer, checkout {offer.checkout_token[:12]}",
        starts_at=now,
        ends_at=reserved.expires_at or default_expiry(now, incentive.expiry_hours),  # a shared row turned unique
        customer_gid=f"gid://shopify/Customer/{offer.customer_id}" if offer.customer_id else None,
        combines_with_shipping=incentive.combines_with_shipping,
    )


def _ours(client: AdminClient, code: str) -> str:
    """Shopify's id of `code`, TAKEN in Shopify: an earlier try of this job made it and its answer was
    lost (the code is unguessable); DiscountUnavailable if Shopify has no such code after all."""
    shopify_id = client.find_code(code)
    if shopify_id is None:
        raise DiscountUnavailable(f"Shopify refused the code {code} as taken")
    return shopify_id


def reserve_many(session: Session, offers: list[StepOffer], now: datetime) -> list[Reserved | None]:
    """`reserve` for several steps in the caller's transaction (issue 13: a batch's codes in one INSERT):
    for each offer, in order, its step's code, or None when it offers none now. Offers of one step
    (its email and its push message) share the step's one code."""
    # In key order: two batches reserving the same steps lock their rows in the same order.
    offered = [((o.journey_id, o.step), o) for o in offers if o.incentive.offered and not o.withheld]
    keys = dict(sorted(offered, key=lambda pair: pair[0]))
    found: dict[tuple[int, str], Reserved] = {}
    if keys:
        rows = [_new_row(offer, now) for offer in keys.values()]
        # One statement built once for any number of rows: SQLAlchemy's "insertmanyvalues" sends the
        # rows as one INSERT … VALUES (…), (…) … RETURNING (in batches of 1,000).
        statement = _reserve_statement(session.get_bind().dialect.name)
        inserted = session.connection().execute(statement, rows).all()
        found = {(row[0], row[1]): Reserved(row[2], row[3], row[4]) for row in inserted}
    if len(found) < len(keys):  # reserved first by an earlier try of this job (or a racing job): theirs wins
        journeys, shops = {journey_id for journey_id, _ in keys}, {offer.shop_id for offer in keys.values()}
        for row in session.scalars(
            select(Discount).where(Discount.shop_id.in_(shops), Discount.journey_id.in_(journeys))
        ):
            if (row.journey_id, row.step) in keys and (row.journey_id, row.step) not in found:
                found[(row.journey_id, row.step)] = Reserved(row.code, row.expires_at, row.shopify_id)
    return [found.get((o.journey_id, o.step)) if (o.journey_id, o.step) in keys else None for o in offers]


@cache
def _reserve_statement(dialect_name: str) -> ReturningInsert[Any]:
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    returned = (Discount.journey_id, Discount.step, Discount.code, Discount.expires_at, Discount.shopify_id)
    return dialect.insert(Discount).on_conflict_do_nothing().returning(*returned)


def _new_row(offer: StepOffer, now: datetime) -> dict:
    """A reservation's row: the merchant's shared code, or a new unguessable one with its expiry."""
    incentive = offer.incentive
    if incentive.code_mode == "shared":
        code, expires_at = incentive.code, None
    else:
        code = unguessable_code(CODE_PREFIX.get(offer.step, "BACK"), os.urandom(random_bytes_needed()))
        expires_at = default_expiry(now, incentive.expiry_hours)
    return {"shop_id": offer.shop_id, "journey_id": offer.journey_id, "step": offer.step, "code": code,
            "mode": incentive.code_mode, "kind": incentive.type, "value": incentive.value, "expires_at": expires_at,
            "created_at": now}  # fmt: skip


def _reserve(session: Session, offer: StepOffer, now: datetime) -> Reserved:
    """The step's code, reserved now or the one an earlier try of this job (or a racing job) reserved
    first: `reserve_many` for one offer, which offers a code (its callers checked)."""
    reserved = reserve_many(session, [offer], now)[0]
    assert reserved is not None
    return reserved
