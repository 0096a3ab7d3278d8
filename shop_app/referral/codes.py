"""The referral flow's codes in Shopify, each created once (issue 11).

- `advocate_code`: the advocate's personal referral code, made for the `invite` step and reused.
- `reward_code_for`: the reward a friend's order earned the advocate.
- `step_code_for`: the thank-you code a `review` or `social` step carries when the merchant set
  its incentive (domain/referral_settings.py): unique, single use, restricted to the advocate's
  customer, kept like a recovery step's code on the discounts row of its (journey, step).

Both follow the reservation of recovery/discounts.py: the code string is stored on its row before
Shopify is asked, so a retried job (after THROTTLED, a 5xx, or an answer that never arrived) asks
for the same code again. A retry first looks the code up in Shopify (codeDiscountNodeByCode, with
the title): if an earlier try created it, its id is recorded and nothing new is created. The title
names the advocate or the reward, so a readable code that someone else already holds is never
taken for ours: a new code is drawn instead. Shopify is never called inside a transaction.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import NamedTuple

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from shop_app.adapters.shopify_admin import AdminClient, CreatedDiscount
from shop_app.domain.discounts import CUSTOMER_GID_PREFIX, DiscountSpec, random_bytes_needed, unguessable_code
from shop_app.domain.referral_codes import (
    DEFAULT_FRIEND_PERCENT,
    DEFAULT_REWARD_DAYS,
    DEFAULT_REWARD_PERCENT,
    ReferralCodeSpec,
    owns,
    referral_bytes_needed,
    referral_code,
    referral_title,
    reward_code,
    reward_spec,
    reward_title,
)
from shop_app.domain.referral_settings import StepIncentive
from shop_app.errors import DiscountCodeTaken, DiscountUnavailable
from shop_app.storage.database import insert_new, transaction
from shop_app.storage.referral_tables import ReferralAdvocate, ReferralReward
from shop_app.storage.tables import Discount, Journey, Profile

#: New codes drawn when a readable code is someone else's, before giving up for this run.
MAX_CLASHES = 3
#: The review's and social's thank-you codes: `THANKS-…`, unguessable like the reward's.
STEP_CODE_PREFIX = "THANKS"


class IssuedCode(NamedTuple):
    code: str
    discount_id: str


@dataclass(frozen=True)
class _Reserved:
    code: str
    discount_id: str | None
    #: The code was reserved by an earlier try: Shopify may already have it.
    earlier: bool


def advocate_code(
    sessions: sessionmaker[Session],
    client: AdminClient | None,
    advocate_id: int,
    now: datetime,
    *,
    first_name: str | None = None,
    percent: Decimal = DEFAULT_FRIEND_PERCENT,
    random: Callable[[int], bytes] = os.urandom,
) -> IssuedCode:
    """The advocate's referral code: created in Shopify once, then the same code every time.

    Raises DiscountUnavailable (or an Admin API error) when it cannot be made now; the caller
    waits and tries again later, and that try finds what this one may have created.
    """

    def draw() -> str:
        return referral_code(first_name, random(referral_bytes_needed()))

    for _ in range(MAX_CLASHES):
        reserved = _reserve(sessions, ReferralAdvocate, advocate_id, "code", "code_discount_id", draw)
        shop_id = _shop_of(sessions, ReferralAdvocate, advocate_id)
        if reserved.discount_id:
            return IssuedCode(reserved.code, reserved.discount_id)
        if client is None:
            raise DiscountUnavailable("the Admin API is not reachable for this shop")
        title = referral_title(shop_id, advocate_id)
        spec = ReferralCodeSpec(reserved.code, title, percent, now)
        discount_id = _ours_or_create(client, reserved, title, functools.partial(client.create_referral_code, spec))
        if discount_id is not None:
            _record(sessions, ReferralAdvocate, advocate_id, reserved.code, discount_id, now)
            return IssuedCode(reserved.code, discount_id)
        _release(sessions, ReferralAdvocate, advocate_id, "code", "code_discount_id", reserved.code)
    raise DiscountUnavailable(f"{MAX_CLASHES} referral codes in a row were already taken in Shopify")


def reward_code_for(
    sessions: sessionmaker[Session],
    client: AdminClient | None,
    reward_id: int,
    customer_id: str | None,
    now: datetime,
    *,
    percent: Decimal = DEFAULT_REWARD_PERCENT,
    days: int = DEFAULT_REWARD_DAYS,
    random: Callable[[int], bytes] = os.urandom,
) -> IssuedCode:
    """The reward's unique code, restricted to the advocate's customer: created once."""
    reserved = _reserve(
        sessions,
        ReferralReward,
        reward_id,
        "reward_code",
        "reward_discount_id",
        lambda: reward_code(random(random_bytes_needed())),
    )
    if reserved.discount_id:
        return IssuedCode(reserved.code, reserved.discount_id)
    if client is None:
        raise DiscountUnavailable("the Admin API is not reachable for this shop")
    title = reward_title(_shop_of(sessions, ReferralReward, reward_id), reward_id)
    spec = reward_spec(reserved.code, title, customer_id, now, percent, days)
    discount_id = _ours_or_create(client, reserved, title, functools.partial(client.create_discount_code, spec))
    if discount_id is None:  # an unguessable code held by someone else: not by chance
        raise DiscountUnavailable(f"Shopify holds the reward code {reserved.code} under another title")
    _record(sessions, ReferralReward, reward_id, reserved.code, discount_id, None)
    return IssuedCode(reserved.code, discount_id)


def step_code_for(
    sessions: sessionmaker[Session],
    client: AdminClient | None,
    journey_id: int,
    step: str,
    incentive: StepIncentive,
    now: datetime,
    *,
    random: Callable[[int], bytes] = os.urandom,
) -> tuple[IssuedCode, datetime]:
    """The review's or social's thank-you code for this journey (created once) and when it stops
    working. Its percentage and end are those of the first reservation: a retry after the merchant
    changed the incentive asks Shopify for the same code, and the message says what it gives."""
    with transaction(sessions) as session:
        shop_id, customer_id = session.execute(
            select(Journey.shop_id, Profile.customer_id)
            .outerjoin(Profile, Profile.id == Journey.profile_id)
            .where(Journey.id == journey_id)
        ).one()
        new = insert_new(
            session, Discount, shop_id=shop_id, journey_id=journey_id, step=step, mode="unique", kind="percentage",
            code=unguessable_code(STEP_CODE_PREFIX, random(random_bytes_needed())), value=incentive.percent,
            expires_at=now + timedelta(days=incentive.expiry_days), created_at=now,
        )  # fmt: skip
        row = session.scalars(select(Discount).where(Discount.journey_id == journey_id, Discount.step == step)).one()
        reserved, percent, ends_at = _Reserved(row.code, row.shopify_id, earlier=not new), row.value, row.expires_at
    assert percent is not None and ends_at is not None  # a step's thank-you row always has both
    if reserved.discount_id:
        return IssuedCode(reserved.code, reserved.discount_id), ends_at
    if client is None:
        raise DiscountUnavailable("the Admin API is not reachable for this shop")
    if ends_at <= now:
        raise DiscountUnavailable(f"the {step} code's validity ended before Shopify could make it")
    title = step_title(shop_id, journey_id, step)
    customer = None
    if customer_id:  # restricted to the advocate; without a customer, single use by the code's holder
        customer = customer_id if customer_id.startswith(CUSTOMER_GID_PREFIX) else CUSTOMER_GID_PREFIX + customer_id
    spec = DiscountSpec("percentage", percent, reserved.code, title, now, ends_at, customer_gid=customer)
    discount_id = _ours_or_create(client, reserved, title, functools.partial(client.create_discount_code, spec))
    if discount_id is None:  # an unguessable code held by someone else: not by chance
        raise DiscountUnavailable(f"Shopify holds the {step} code {reserved.code} under another title")
    with transaction(sessions) as session:
        session.execute(
            update(Discount)
            .where(Discount.journey_id == journey_id, Discount.step == step, Discount.code == reserved.code)
            .values(shopify_id=discount_id)
        )
    return IssuedCode(reserved.code, discount_id), ends_at


def step_title(shop_id: int, journey_id: int, step: str) -> str:
    """The discount's title in the Shopify admin: it names the journey, so a found code is known ours."""
    return f"Reclaim referral {step} thank-you, journey {shop_id}-{journey_id}"


# --- the steps --------------------------------------------------------------------------------


def _ours_or_create(
    client: AdminClient, reserved: _Reserved, title: str, create: Callable[[], CreatedDiscount]
) -> str | None:
    """Shopify's id for our code: found (an earlier try made it) or created now. None when
    Shopify holds the code under another title: the code must be drawn again."""
    if reserved.earlier:
        found = client.find_code_titled(reserved.code)
        if found is not None:
            return found.id if owns(found.title, title) else None
    try:
        return create().id
    except DiscountCodeTaken:
        found = client.find_code_titled(reserved.code)  # made by a try whose answer was lost?
        if found is None:
            raise DiscountUnavailable("Shopify refused the code as taken") from None  # no code: it holds a name
        return found.id if owns(found.title, title) else None


Model = type[ReferralAdvocate] | type[ReferralReward]


def _reserve(
    sessions: sessionmaker[Session], model: Model, row_id: int, code_field: str, id_field: str, draw: Callable[[], str]
) -> _Reserved:
    """The row's code: reserved now, or the one an earlier (or racing) try reserved first."""
    with transaction(sessions) as session:
        code_column, id_column = getattr(model, code_field), getattr(model, id_field)
        current = session.execute(select(code_column, id_column).where(model.id == row_id)).one_or_none()
        if current is None:
            raise LookupError(f"no {model.__tablename__} row {row_id}")
        if current[0] is not None:
            return _Reserved(current[0], current[1], earlier=True)
        session.execute(update(model).where(model.id == row_id, code_column.is_(None)).values({code_field: draw()}))
        code, discount_id = session.execute(select(code_column, id_column).where(model.id == row_id)).one()
        return _Reserved(code, discount_id, earlier=False)


def _release(
    sessions: sessionmaker[Session], model: Model, row_id: int, code_field: str, id_field: str, code: str
) -> None:
    """Forget a reserved code Shopify gave to someone else, so the next reservation draws anew."""
    with transaction(sessions) as session:
        code_column, id_column = getattr(model, code_field), getattr(model, id_field)
        session.execute(
            update(model).where(model.id == row_id, code_column == code, id_column.is_(None)).values({code_field: None})
        )


def _record(
    sessions: sessionmaker[Session], model: Model, row_id: int, code: str, discount_id: str, now: datetime | None
) -> None:
    with transaction(sessions) as session:
        if model is ReferralAdvocate:
            session.execute(
                update(ReferralAdvocate)
                .where(ReferralAdvocate.id == row_id, ReferralAdvocate.code == code)
                .values(code_discount_id=discount_id, code_created_at=now)
            )
        else:
            session.execute(
                update(ReferralReward)
                .where(ReferralReward.id == row_id, ReferralReward.reward_code == code)
                .values(reward_discount_id=discount_id)
            )


def _shop_of(sessions: sessionmaker[Session], model: Model, row_id: int) -> int:
    with sessions() as session:
        return session.execute(select(model.shop_id).where(model.id == row_id)).scalar_one()
