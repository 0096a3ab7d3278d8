"""What we hold for one customer of a privacy request: their checkouts, orders and profiles, and
every address those carry.

Shopify names the customer by id and perhaps an email and a phone. Their checkouts may carry
other addresses (a second email, a work phone, the SMS marketing number), so the search goes
round: the addresses of the rows found find more rows, until nothing new turns up. A row that
belongs to *another* customer id is erased when it carries the customer's address, but its own
addresses are not taken as this customer's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, false, func, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from shop_app.domain.addresses import SEPARATORS, Addresses
from shop_app.storage.tables import CheckoutRow, OrderRow, Profile, Shop

#: Rounds of "addresses find rows, rows bring addresses"; real customers settle in two.
MAX_ROUNDS = 5

_Column = InstrumentedAttribute[str | None]


@dataclass(frozen=True)
class Customer:
    customer_id: str | None
    email: str | None
    phone: str | None
    order_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Held:
    checkouts: list[CheckoutRow]
    orders: list[OrderRow]
    profiles: list[Profile]
    addresses: Addresses


def without_separators(text: Any) -> Any:
    """The SQL text with the separators people write phone numbers with removed: a number stored
    before phones were kept in E.164 ("+49 30 1234567") still matches its spellings."""
    for separator in SEPARATORS:
        text = func.replace(text, separator, "")
    return text


def matching(
    customer: Customer, addresses: Addresses, id_column: _Column, emails: list[_Column], phones: list[_Column]
) -> ColumnElement[bool]:
    """Rows with the customer's id, or any of their emails or phone numbers in any stored spelling."""
    conditions: list[ColumnElement[bool]] = []
    if customer.customer_id:
        conditions.append(id_column == customer.customer_id)
    if addresses.emails:
        conditions += [column.in_(sorted(addresses.emails)) for column in emails]
    forms = sorted(addresses.phone_forms())
    if forms:
        conditions += [without_separators(column).in_(forms) for column in phones]
    return or_(*conditions) if conditions else false()


def gather(session: Session, shop: Shop, customer: Customer) -> Held:
    """The customer's rows and addresses, followed round until nothing new turns up."""
    addresses = Addresses.of([customer.email, customer.phone])
    held = _rows(session, shop, customer, addresses)
    for _ in range(MAX_ROUNDS):
        grown = addresses | _addresses_of(held, customer)
        if grown == addresses:
            break
        addresses = grown
        held = _rows(session, shop, customer, addresses)
    return Held(held.checkouts, held.orders, held.profiles, addresses)


def _rows(session: Session, shop: Shop, customer: Customer, addresses: Addresses) -> Held:
    checkouts = select(CheckoutRow).where(
        CheckoutRow.shop_id == shop.id,
        matching(
            customer,
            addresses,
            CheckoutRow.customer_id,
            [CheckoutRow.email],
            [CheckoutRow.phone, CheckoutRow.sms_phone],
        ),
    )
    order_match = matching(customer, addresses, OrderRow.customer_id, [OrderRow.email], [OrderRow.phone])
    if customer.order_ids:
        order_match = or_(order_match, OrderRow.shopify_id.in_(customer.order_ids))
    profiles = select(Profile).where(
        Profile.shop_id == shop.id, matching(customer, addresses, Profile.customer_id, [Profile.email], [Profile.phone])
    )
    return Held(
        checkouts=list(session.scalars(checkouts.order_by(CheckoutRow.id))),
        orders=list(session.scalars(select(OrderRow).where(OrderRow.shop_id == shop.id, order_match))),
        profiles=list(session.scalars(profiles)),
        addresses=addresses,
    )


def _addresses_of(held: Held, customer: Customer) -> Addresses:
    """The addresses on rows that are the customer's own (no other customer id on them)."""
    values: list[str | None] = []
    for checkout in held.checkouts:
        if _own(checkout.customer_id, customer):
            values += [checkout.email, checkout.phone, checkout.sms_phone]
    for order in held.orders:
        if _own(order.customer_id, customer):
            values += [order.email, order.phone]
    for profile in held.profiles:
        if _own(profile.customer_id, customer):
            values += [profile.email, profile.phone]
    return Addresses.of(values)


def _own(row_customer_id: str | None, customer: Customer) -> bool:
    return not (row_customer_id and customer.customer_id and row_customer_id != customer.customer_id)
