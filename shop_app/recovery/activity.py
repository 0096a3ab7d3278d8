"""Read models for operators and the admin: what was planned, sent, skipped, and why.

- `message_rows`: every message of a shop (the CLI and tests), oldest due first.
- `message_page`: the same rows a page at a time, newest first (the admin's /api/messages).
- `journey_page`: journeys newest first, recovery and referral ones alike, searched by a contact or
  checkout token, filtered by status and flow (the admin's /activity). The timeline of one journey is in `timeline.py`.

Pages are keyset pages (storage/keyset.py): never OFFSET, never every row.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, or_, select, union
from sqlalchemy.orm import Session

from shop_app.domain.models import Flow, JourneyStatus, Status
from shop_app.recovery.journeys import FLOW
from shop_app.recovery.phones import read_phone
from shop_app.referral.profiles import origin_label
from shop_app.shopify.shops import get_shop
from shop_app.storage.keyset import DEFAULT_LIMIT, Page, fetch_page, mapped
from shop_app.storage.tables import CheckoutRow, Journey, Message, OrderRow, Profile, Shop

#: The flows a journey can belong to, with the name the merchant knows them by.
FLOW_NAMES = {FLOW: "Revenue Recovery", Flow.REFERRAL.value: "Referral Generation"}
JOURNEY_STATUSES = tuple(s.value for s in JourneyStatus)
#: What a phone search looks like: digits and the separators people write numbers with.
_PHONE_LIKE = re.compile(r"\+?[0-9][0-9 ()./-]{4,30}")


def _message_json(m: Message, domain: str, token: str | None, order: str | None) -> dict[str, Any]:
    return {
        "id": m.id,
        "shop": domain,
        "checkout_token": token,
        "order": order,
        "flow": m.flow,
        "step": m.step,
        "channel": m.channel,
        "status": m.status,
        "due_at": m.due_at.isoformat(),
        "sent_at": m.sent_at.isoformat() if m.sent_at else None,
        "reason": m.reason,
        "delivery_status": m.delivery_status,
        "body": m.body,
    }


def _messages_query(statuses: tuple[str, ...]) -> Any:
    query = (
        # A referral row (issue 11) has no checkout: its token is the triggering order's (None for
        # an order not paid through a checkout). `order` names the referral row's triggering order,
        # or the order a recovery journey converted into: its name (#1001), else its Shopify id.
        select(
            Message,
            Shop.domain,
            func.coalesce(CheckoutRow.token, OrderRow.checkout_token),
            func.coalesce(OrderRow.name, OrderRow.shopify_id),
        )
        .join(Shop, Shop.id == Message.shop_id)
        .join(Journey, Journey.id == Message.journey_id)
        .outerjoin(CheckoutRow, CheckoutRow.id == Journey.checkout_id)
        .outerjoin(OrderRow, OrderRow.id == func.coalesce(Journey.trigger_order_id, Journey.order_id))
    )
    return query.where(Message.status.in_(statuses)) if statuses else query


def message_rows(
    session: Session,
    shop_domain: str | None = None,
    *,
    statuses: tuple[str, ...] = (),
    message_id: int | None = None,
    since: datetime | None = None,
    limit: int | None = None,
) -> list[dict]:
    """Messages with their checkout, oldest due first; filtered in SQL by shop, status, id and
    due time (`since`: due then or later). `limit`: only the latest `limit` by due time."""
    query = _messages_query(statuses)
    if shop_domain is not None:
        query = query.where(Message.shop_id == get_shop(session, shop_domain).id)
    if message_id is not None:
        query = query.where(Message.id == message_id)
    if since is not None:
        query = query.where(Message.due_at >= since)
    if limit is None:
        rows = session.execute(query.order_by(Message.due_at, Message.id)).all()
    else:
        rows = session.execute(query.order_by(Message.due_at.desc(), Message.id.desc()).limit(limit)).all()[::-1]
    return [_message_json(*row) for row in rows]


def message_page(
    session: Session,
    shop_id: int,
    *,
    statuses: tuple[str, ...] = (),
    after: str | None = None,
    before: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> Page[dict]:
    """One page of the shop's messages, newest first (by id), each as `message_rows` shows it."""
    query = _messages_query(statuses).where(Message.shop_id == shop_id)
    page = fetch_page(session, query, Message.id, lambda row: row[0].id, after=after, before=before, limit=limit)
    return mapped(page, lambda row: _message_json(*row))


# --- journeys ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class JourneyFilter:
    """What the merchant looks for: a contact or checkout token, a journey status, a flow."""

    search: str = ""
    status: str | None = None
    flow: str | None = None


@dataclass(frozen=True)
class Search:
    """How a search text is read: `email`, `phone` (also tried as a token) or `token`."""

    kind: str
    value: str


def read_search(text: str, region: str | None) -> Search | None:
    """An email (lower-cased), a phone number (in E.164, national ones read in `region`, the
    shop's country) or a checkout token; None for an empty search. Every one is an exact match."""
    text = text.strip()
    if not text:
        return None
    if "@" in text:
        return Search("email", text.lower())
    if _PHONE_LIKE.fullmatch(text):
        number = read_phone(text, region).number
        if number is not None:
            return Search("phone", number)
    return Search("token", text)


def _matching_journeys(shop_id: int, search: Search, raw: str) -> Any:
    """The ids of the shop's journeys the search names, one equality per way in so that each is an
    indexed lookup: a recovery journey through its checkout; a referral journey (issue 11) through
    its advocate's profile or its triggering order (the order's contact, or the checkout token it
    was paid from)."""
    value, token = search.value, raw.strip()
    if search.kind == "email":
        checkout, profile, order = [CheckoutRow.email == value], [Profile.email == value], [OrderRow.email == value]
    elif search.kind == "phone":  # a token may be all digits too
        checkout = [CheckoutRow.phone == value, CheckoutRow.sms_phone == value, CheckoutRow.token == token]
        profile, order = [Profile.phone == value], [OrderRow.phone == value, OrderRow.checkout_token == token]
    else:
        checkout, profile, order = [CheckoutRow.token == value], [], [OrderRow.checkout_token == value]
    through_checkout = select(Journey.id).join(CheckoutRow, CheckoutRow.id == Journey.checkout_id)
    through_profile = select(Journey.id).join(Profile, Profile.id == Journey.profile_id)
    # journeys.trigger_order_id has no index: the orders' way reads the shop's journeys once.
    orders = select(OrderRow.id).where(OrderRow.shop_id == shop_id, or_(*order))
    through_order = select(Journey.id).where(
        Journey.shop_id == shop_id, Journey.flow == Flow.REFERRAL.value, Journey.trigger_order_id.in_(orders)
    )
    return union(
        *(through_checkout.where(CheckoutRow.shop_id == shop_id, match) for match in checkout),
        *(through_profile.where(Profile.shop_id == shop_id, match) for match in profile),
        through_order,
    )


def journey_page(
    session: Session,
    shop: Shop,
    wanted: JourneyFilter,
    *,
    after: str | None = None,
    before: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> Page[dict]:
    """One page of the shop's journeys, newest first: a recovery journey with its checkout's
    contact and cart, a referral journey with its triggering order and its advocate's contact;
    each with the profile's origin and how many of its messages went out."""
    query = (
        select(Journey, CheckoutRow, OrderRow)
        .outerjoin(CheckoutRow, CheckoutRow.id == Journey.checkout_id)
        .outerjoin(OrderRow, OrderRow.id == Journey.trigger_order_id)
        .where(Journey.shop_id == shop.id)
    )
    if wanted.status:
        query = query.where(Journey.status == wanted.status)
    if wanted.flow:
        query = query.where(Journey.flow == wanted.flow)
    search = read_search(wanted.search, shop.country_code)
    if search is not None:
        query = query.where(Journey.id.in_(_matching_journeys(shop.id, search, wanted.search)))
    page = fetch_page(session, query, Journey.id, lambda row: row[0].id, after=after, before=before, limit=limit)
    counts = _message_counts(session, [journey.id for journey, _, _ in page.rows])
    profiles = _profiles(session, shop.id, [_profile_id(journey, checkout) for journey, checkout, _ in page.rows])
    return mapped(page, lambda row: _journey_json(row[0], row[1], row[2], profiles, counts))


def _profile_id(journey: Journey, checkout: CheckoutRow | None) -> int | None:
    """A referral journey's advocate, or the profile a recovery journey's checkout captured."""
    return journey.profile_id or (checkout.profile_id if checkout is not None else None)


def _profiles(session: Session, shop_id: int, ids: list[int | None]) -> dict[int, Profile]:
    """The profiles of one page: one query over at most a page of ids."""
    wanted = sorted({i for i in ids if i is not None})
    if not wanted:
        return {}
    return {p.id: p for p in session.scalars(select(Profile).where(Profile.shop_id == shop_id, Profile.id.in_(wanted)))}


def _message_counts(session: Session, journey_ids: list[int]) -> dict[int, tuple[int, int]]:
    """(sent, all) messages per journey of one page: one grouped query over at most a page of ids."""
    if not journey_ids:
        return {}
    sent = func.sum(case((Message.status == Status.SENT.value, 1), else_=0))
    query = (
        select(Message.journey_id, sent, func.count(Message.id))
        .where(Message.journey_id.in_(journey_ids))
        .group_by(Message.journey_id)
    )
    return {journey_id: (int(done or 0), int(total)) for journey_id, done, total in session.execute(query)}


def origin_of(profile: Profile | None) -> str | None:
    """How the merchant reads the profile's origin ("captured (order)", "imported"); None without one."""
    return origin_label(profile.origin, profile.captured_by) if profile is not None else None


def _journey_json(
    journey: Journey,
    checkout: CheckoutRow | None,
    order: OrderRow | None,
    profiles: dict[int, Profile],
    counts: dict[int, tuple[int, int]],
) -> dict[str, Any]:
    profile = profiles.get(_profile_id(journey, checkout) or 0)
    sent, planned = counts.get(journey.id, (0, 0))
    if checkout is not None:
        email, phone = checkout.email, checkout.phone or checkout.sms_phone
    else:  # a referral journey: its advocate's contact, the order's where the profile has none (as it is sent)
        email = (profile.email if profile else None) or (order.email if order else None)
        phone = (profile.phone if profile else None) or (order.phone if order else None)
    amounts: CheckoutRow | OrderRow | None = checkout if checkout is not None else order
    return {
        "id": journey.id,
        "flow": journey.flow,
        "flow_name": FLOW_NAMES.get(journey.flow, journey.flow),
        "status": journey.status,
        "stop_reason": journey.stop_reason,
        "abandoned_at": journey.abandoned_at.isoformat(),
        "created_at": journey.created_at.isoformat(),
        # As /api/messages names it: a referral journey's token is its triggering order's checkout token.
        "checkout_token": checkout.token if checkout is not None else (order.checkout_token if order else None),
        "order_name": (order.name or order.shopify_id) if order is not None else None,
        "email": email,
        "phone": phone,
        "origin": origin_of(profile),
        "total_price": str(amounts.total_price) if amounts is not None else None,
        "currency": amounts.currency if amounts is not None else None,
        "recovered_revenue": str(journey.recovered_revenue) if journey.recovered_revenue is not None else None,
        "messages_sent": sent,
        "messages": planned,
    }
