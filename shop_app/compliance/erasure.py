"""customers/redact: erase one customer's personal data from every table.

1. Find what we hold (customer_data.gather): the customer's checkouts, orders and profiles, and
   every address on them, whoever of them Shopify named.
2. Erase by meaning: journeys stop, messages forget what they said and to whom, checkouts and
   orders keep only their anonymous facts (the dashboard's counts), profiles, push subscriptions,
   data-request exports and raw provider answers go, and webhook bodies that name the customer.
   The Shopify discounts made for them (their referral code, made from their first name, and the
   rewards it earned) are recorded for the reconciler to delete there (referral/removals.py).
3. Erase every remaining mention (`erase_mentions`): every text and JSON column of every table
   of the shop is searched for each address in any spelling. A suppression survives as a keyed
   hash of its address (a suppressed address stays suppressed), a consent record goes, and any
   other text keeps its words with the address masked.
"""

from __future__ import annotations

import functools
import json
import re
import sys
from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

from sqlalchemy import (
    JSON,
    ColumnElement,
    String,
    Table,
    Text,
    and_,
    cast,
    delete,
    func,
    not_,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.orm import Session

from shop_app.compliance.customer_data import Customer, Held, gather, matching
from shop_app.domain.addresses import MASK, SEPARATORS, Addresses, address_hash
from shop_app.domain.models import JourneyStatus, WebhookStatus
from shop_app.recovery import outbox
from shop_app.referral import removals
from shop_app.storage.tables import (
    Base,
    Consent,
    DataRequest,
    Journey,
    Message,
    MessageEvent,
    Profile,
    PushSubscription,
    Shop,
    Suppression,
    WebhookDelivery,
)

REDACTED_REASON = "customer data erased on request"

#: Columns whose value is the address itself and whose row must keep one: handled row by row.
_ADDRESS_KEYS = (Suppression.__table__.c.address, Consent.__table__.c.address)


def redact_customer(session: Session, shop: Shop, customer: Customer, secret_key: str) -> str:
    """Erase the customer's personal data; what happened, in words (and never an address)."""
    held = gather(session, shop, customer)
    journey_ids = list(
        session.scalars(select(Journey.id).where(Journey.checkout_id.in_([c.id for c in held.checkouts])))
    )
    message_ids = _messages(session, shop, journey_ids, held.addresses)
    _stop_journeys(session, shop, journey_ids, message_ids)
    # Providers' raw answers carry the address (To, From, email, WaId): the event stays, the raw goes.
    session.execute(update(MessageEvent).where(MessageEvent.message_id.in_(message_ids)).values(raw=None))
    _erase_checkouts_and_orders(held)
    _drop_push_subscriptions(session, shop, held)
    # The codes made for them in Shopify (the advocate's holds their name) are deleted there by the
    # reconciler: recorded before their rows go with the profiles (referral/removals.py).
    codes = removals.record_for_profiles(session, shop.id, [p.id for p in held.profiles])
    session.execute(delete(Profile).where(Profile.id.in_([p.id for p in held.profiles])))
    exports = matching(customer, held.addresses, DataRequest.customer_id, [DataRequest.email], [DataRequest.phone])
    session.execute(delete(DataRequest).where(DataRequest.shop_id == shop.id, exports))
    _drop_webhook_bodies(session, shop, customer, held.addresses)
    session.flush()
    mentions = erase_mentions(session, shop, held.addresses, secret_key)
    addresses = len(held.addresses.emails) + len(held.addresses.phones)
    return (
        f"erased: {len(held.checkouts)} checkout(s), {len(journey_ids)} journey(s), {addresses} address(es); "
        f"{mentions} other mention(s); {codes} Shopify discount(s) to delete"
    )


def _messages(session: Session, shop: Shop, journey_ids: list[int], addresses: Addresses) -> list[int]:
    """The customer's messages: those of their journeys, and any sent to one of their addresses."""
    to_them = Message.recipient.in_(sorted(addresses.emails | addresses.phone_forms()))
    query = select(Message.id).where(Message.shop_id == shop.id, or_(Message.journey_id.in_(journey_ids), to_them))
    return list(session.scalars(query))


def _stop_journeys(session: Session, shop: Shop, journey_ids: list[int], message_ids: list[int]) -> None:
    """Pending messages are cancelled, every message forgets what it said, active journeys stop."""
    outbox.cancel_pending(session, shop.id, REDACTED_REASON, journey_ids=journey_ids)
    outbox.forget_contents(session, shop.id, message_ids)
    session.execute(
        update(Journey)
        .where(Journey.id.in_(journey_ids), Journey.status == JourneyStatus.ACTIVE.value)
        .values(status=JourneyStatus.STOPPED.value, stop_reason=REDACTED_REASON)
    )


def _erase_checkouts_and_orders(held: Held) -> None:
    for checkout in held.checkouts:
        checkout.email = checkout.phone = checkout.sms_phone = checkout.customer_id = checkout.first_name = None
        checkout.abandoned_checkout_url = None
        checkout.line_items = []
        checkout.profile_id = None
    for order in held.orders:
        order.email = order.phone = order.customer_id = order.shipping_address_key = None
        order.status_url = None  # its key opens the order's status page: the name and addresses


def _drop_push_subscriptions(session: Session, shop: Shop, held: Held) -> None:
    """The browsers of the customer's carts and profiles, and the push consents given for them."""
    cart_tokens = [c.cart_token for c in held.checkouts if c.cart_token]
    of_customer = (
        PushSubscription.shop_id == shop.id,
        or_(
            PushSubscription.cart_token.in_(cart_tokens), PushSubscription.profile_id.in_([p.id for p in held.profiles])
        ),
    )
    endpoints = list(session.scalars(select(PushSubscription.endpoint_hash).where(*of_customer)))
    session.execute(
        delete(Consent).where(Consent.shop_id == shop.id, Consent.channel == "push", Consent.address.in_(endpoints))
    )
    session.execute(delete(PushSubscription).where(*of_customer))


def _drop_webhook_bodies(session: Session, shop: Shop, customer: Customer, addresses: Addresses) -> None:
    """Kept webhook bodies (not yet ingested, or refused) that name the customer lose the body; one
    still waiting is not ingested any more. A waiting customers/redact is left to run: processing
    it drops its body.

    The database picks the bodies that may name the customer (`_may_name`, never narrower than the
    exact test); only those are read and tested here (`names_customer`)."""
    may_name = _may_name(customer, addresses)
    if may_name is None:
        return
    waiting_redact = and_(
        WebhookDelivery.status == WebhookStatus.RECEIVED.value, WebhookDelivery.topic == "customers/redact"
    )
    candidates = select(WebhookDelivery).where(
        WebhookDelivery.shop_id == shop.id, WebhookDelivery.body.is_not(None), not_(waiting_redact), may_name
    )
    for delivery in session.scalars(candidates):
        if names_customer(delivery.body or "", delivery.topic, customer, addresses):
            delivery.body = None
            if delivery.status == WebhookStatus.RECEIVED.value:
                delivery.status, delivery.reason = WebhookStatus.REJECTED.value, REDACTED_REASON


def names_customer(body: str, topic: str, customer: Customer, addresses: Addresses) -> bool:
    """The exact test of a kept webhook body: it holds one of the addresses in any spelling, as
    written or in a JSON string once its escapes are read (`600\\n111 222`, `ana\\u0040example.com`,
    `\\u212a` for K: what `scrub_json` of the document finds), or the customer id or an order id."""
    if addresses.found_in(body) or any(addresses.found_in(text) for text in escaped_strings(body)):
        return True
    return _names_by_id(body, topic, customer)


#: The rest of a JSON string after its opening quote, up to its closing quote, escapes skipped.
_STRING_REST = re.compile(r'[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)


def escaped_strings(body: str) -> Iterator[str]:
    """The strings of a JSON text (keys too) that hold an escape, read as json.loads reads them.

    In one pass along the text, without building the document: a body nested any depth is read
    too (json.loads gives up near a thousand levels, and a recursive walk of what it returns at
    half that), and so are the closed strings of one cut short: outside a string JSON has no
    quote, so every quote from the first one on opens or closes a string. A text that is not
    JSON at all is read the same way. A string with an escape json.loads refuses (`\\x`) is left
    out: its text as written is tested as it is."""
    start = body.find('"')
    while start != -1:
        rest = _STRING_REST.match(body, start + 1)
        if rest is None:
            return  # the last string is not closed
        string, start = body[start : rest.end()], body.find('"', rest.end())
        if "\\" in string:
            try:
                text = json.loads(string, strict=False)
            except ValueError:
                continue
            yield text


#: More order ids than this are not spelled out in SQL: every orders/* body is read instead.
_MAX_ORDER_IDS_IN_SQL = 100
#: What SQL's lower() may not fold as re.IGNORECASE does: the letters it matches with non-ASCII
#: ones (i with İ and ı, k with K the Kelvin sign, s with ſ), and any non-ASCII character.
_UNFOLDABLE = re.compile("[iks\u0080-\U0010ffff]+")


def _may_name(customer: Customer, addresses: Addresses) -> ColumnElement[bool] | None:
    """A condition on webhook bodies that holds for every body the exact test would drop (and for
    some it would not); None when there is nothing to look for.

    - An email: `found_in` ignores case the way Python's re does, where i, k and s also match
      İ, ı, K and ſ, and lower() may fold nothing but ASCII: those letters and any non-ASCII one
      become a LIKE wildcard; the rest is compared lower-cased. In a body with a backslash, any
      of its characters may also be a JSON escape (`_holds_escaped`).
    - A phone number: every spelling holds the national digits with separators between them;
      in the JSON text a separator may be any escape (`\\n`, `\\u00a0`), a digit `\\u003N`.
    - The customer id and order ids are compared as JSON values: a body holds an id of digits
      as written, or, with a JSON escape for a digit (\\u003N), in any spelling. An id that is
      not all digits may equal str() of a number, null or true: then no body is left out.

    Stored bodies hold no NUL (webhooks/routes.py replaces it), where SQLite's LIKE would stop."""
    body = WebhookDelivery.body
    emails = sorted(addresses.emails)
    conditions: list[ColumnElement[bool]] = [func.lower(body).like(_email_pattern(e), escape="/") for e in emails]
    if emails:
        conditions.append(_holds_escaped(body, emails))
    if addresses.phones:
        conditions.append(_holds_digits(body, sorted(addresses.phone_cores()), json_text=True, escaped_digits=True))
    if customer.customer_id:
        conditions.append(_holds_id(body, [customer.customer_id]))
    if customer.order_ids:
        orders = WebhookDelivery.topic.startswith("orders/", autoescape=True)
        many = len(customer.order_ids) > _MAX_ORDER_IDS_IN_SQL
        conditions.append(and_(orders, true() if many else _holds_id(body, customer.order_ids)))
    return or_(*conditions) if conditions else None


def _email_pattern(email: str) -> str:
    """A LIKE pattern (escape /) matching the lower-cased text of every spelling of `email` that
    `Addresses.found_in` matches: the email's runs of plain characters, in order."""
    runs = _UNFOLDABLE.split(email)
    escaped = (run.replace("/", "//").replace("%", "/%").replace("_", "/_") for run in runs if run)
    return "%" + "%".join(escaped) + "%"


#: A longer email (none we store: payloads.normal_email keeps 320 characters) is not spelled out
#: as a regular expression: any body with a backslash may hold it.
_MAX_EMAIL_IN_PATTERN = 320


def _holds_escaped(body: Any, emails: list[str]) -> ColumnElement[bool]:
    """Bodies with a backslash where one of `emails` may be written with JSON escapes: one regular
    expression, an alternative per email and in it a group per character (`_escaped_char`), a
    few dozen times the emails' length in all, whatever they hold."""
    escaped = body.contains("\\", autoescape=True)
    if any(len(email) > _MAX_EMAIL_IN_PATTERN for email in emails):
        return escaped
    alternatives = ("".join(map(_escaped_char, email)) for email in emails)
    return and_(escaped, body.regexp_match("(?s)" + "|".join(f"(?:{a})" for a in alternatives)))


#: The characters beyond ASCII that Python's re.IGNORECASE matches with an ASCII letter.
_ASCII_LOOKALIKES = "\u0130\u0131\u017f\u212a"
#: JSON's escapes of a printable ASCII character other than \\uXXXX, as regular expressions.
_SHORT_ESCAPES = {"/": r"\\/", '"': r'\\"', "\\": r"\\\\"}


def _escaped_char(char: str) -> str:
    """A character of an email in a JSON text, in each form `found_in` matches once the text's
    escapes are read. A printable ASCII character: itself (a letter in any of the forms
    re.IGNORECASE matches it with: both cases, and İ, ı, K or ſ for i, k, s), raw or as its
    escape. Any other character (a space, a control, a letter beyond ASCII, whose forms are not
    spelled out): any character, or any escape, two for one beyond U+FFFF (a surrogate pair).
    An escape matches one character: a run of escapes is no email."""
    if not char.isascii() or not char.isprintable() or char.isspace():
        return f"(?:.|(?:{_JSON_ESCAPE}){{1,2}})"
    forms = _ignoring_case(char)
    raw = f"[{''.join(forms)}]" if char.isalpha() else char if char.isdigit() else "\\" + char
    escapes = [_unicode_escape(form) for form in forms] + [_SHORT_ESCAPES[f] for f in forms if f in _SHORT_ESCAPES]
    return f"(?:{raw}|{'|'.join(escapes)})"


def _ignoring_case(char: str) -> list[str]:
    """A printable ASCII character and the characters re.IGNORECASE matches it with."""
    forms = {char, char.lower(), char.upper(), *_ASCII_LOOKALIKES}
    return sorted(form for form in forms if re.fullmatch(re.escape(char), form, re.IGNORECASE))


def _unicode_escape(char: str) -> str:
    """\\uXXXX for a character of the Basic Multilingual Plane, its hex digits in either case."""
    return r"\\u" + "".join(f"[{h}{h.upper()}]" if h.isalpha() else h for h in f"{ord(char):04x}")


@functools.cache
def _phone_separators() -> str:
    """What `found_in` allows between a phone number's digits: its pattern's -./() and \\s, which
    Python's re takes for any character str.isspace() calls whitespace (some 30, not only ASCII)."""
    spaces = (chr(code) for code in range(sys.maxunicode + 1) if chr(code).isspace())
    return "".join(sorted(set(SEPARATORS).union(spaces)))


def _holds_digits(
    body: Any, cores: list[str], *, json_text: bool = False, escaped_digits: bool = False
) -> ColumnElement[bool]:
    """Bodies where the digits of one of `cores` follow each other with only phone separators
    between them, any number (found_in allows three). One regular expression, an alternative for
    each core, that both databases read alike: digits, and a bracket of plain characters with the
    hyphen last (PostgreSQL's `~`; SQLite's REGEXP, which SQLAlchemy answers with re.search).

    `json_text`: `body` is a JSON document as text, where a separator inside a string may be
    written as an escape (json.dumps writes \\n, \\t and \\u00a0 for a line break, a tab and a
    no-break space): any escape counts as a separator too. `escaped_digits`: and a digit may be
    written \\u003N (a webhook body is written by others; json.dumps never escapes a digit)."""
    separators = "[" + _phone_separators().replace("-", "") + "-]"
    between = f"(?:{separators}|{_JSON_ESCAPE})*" if json_text else separators + "*"
    digit = r"(?:{0}|\\u003{0})" if escaped_digits else "{0}"
    return body.regexp_match("|".join("(?:" + between.join(map(digit.format, core)) + ")" for core in cores))


#: A JSON escape in a regular expression both databases read alike: a backslash, then a letter,
#: a slash, a backslash or a quote, or u and four hex digits.
_JSON_ESCAPE = r'\\(?:[bfnrt/\\"]|u[0-9a-fA-F]{4})'


def _holds_id(body: Any, ids: Sequence[str]) -> ColumnElement[bool]:
    """Bodies where a JSON value may read as one of `ids` (see `_may_name`)."""
    if not all(i.isascii() and i.isdigit() for i in ids):
        return true()
    return or_(body.contains("\\u003", autoescape=True), *(body.contains(i, autoescape=True) for i in ids))


def _names_by_id(body: str, topic: str, customer: Customer) -> bool:
    try:
        payload = json.loads(body.removeprefix("\ufeff"))
    except (ValueError, RecursionError):
        return False
    if not isinstance(payload, dict):
        return False
    person = payload.get("customer")
    if customer.customer_id and isinstance(person, dict) and str(person.get("id")) == customer.customer_id:
        return True
    return topic.startswith("orders/") and str(payload.get("id")) in customer.order_ids


# --- every remaining mention ---------------------------------------------------------------------


def erase_mentions(session: Session, shop: Shop, addresses: Addresses, secret_key: str) -> int:
    """Search every text and JSON column of the shop's tables for the addresses; how many values changed."""
    if not addresses:
        return 0
    changed = _hash_suppressions(session, shop, addresses, secret_key) + _drop_consents(session, shop, addresses)
    for table, keys, columns in _searched_tables():
        query = select(*keys, *columns).where(table.c.shop_id == shop.id, _mentioning(columns, addresses))
        for row in session.execute(query).all():
            values = _scrubbed(row._mapping, columns, addresses)
            if values:
                session.execute(update(table).where(*(k == row._mapping[k] for k in keys)).values(values))
                changed += len(values)
    return changed


@functools.cache
def _searched_tables() -> tuple[tuple[Table, list[Any], list[Any]], ...]:
    """(table, primary key, text and JSON columns) of each table with a shop_id and any text, the
    suppression's and consent's address left out; worked out once (a column compared with `in`
    builds an SQL expression each time)."""
    searched = []
    for table in Base.metadata.sorted_tables:
        columns = [c for c in _text_columns(table) if not any(c is key for key in _ADDRESS_KEYS)]
        if "shop_id" in table.c and columns:
            searched.append((table, list(table.primary_key.columns), columns))
    return tuple(searched)


def _text_columns(table: Table) -> list[Any]:
    return [c for c in table.c if isinstance(c.type, String | JSON) and not c.primary_key]


def _mentioning(columns: list[Any], addresses: Addresses) -> ColumnElement[bool]:
    """A first filter the database can run, never narrower than the exact test that follows
    (`Addresses.found_in`, `scrub`): the same pick as `_may_name`'s for webhook bodies.

    - An email: lower-cased, with i, k, s and any non-ASCII letter a LIKE wildcard (re.IGNORECASE
      also matches İ, ı, K the Kelvin sign and ſ, which SQL's lower() may not fold).
    - A phone number: its national digits with any of found_in's separators between them, Unicode
      spaces and line breaks included; in a JSON column also JSON escapes, since the exact test
      reads the decoded strings (`Addresses.scrub_json`) and the database the document's text.

    SQLite's LIKE stops at a NUL: no text we store holds one (webhook bodies have it replaced)."""
    emails, cores = sorted(addresses.emails), sorted(addresses.phone_cores())
    conditions: list[ColumnElement[bool]] = []
    for column in columns:
        text = cast(column, Text)
        conditions += [func.lower(text).like(_email_pattern(email), escape="/") for email in emails]
        if cores:
            conditions.append(_holds_digits(text, cores, json_text=isinstance(column.type, JSON)))
    return or_(*conditions)


def _scrubbed(row: Any, columns: list[Any], addresses: Addresses) -> dict[str, Any]:
    """The new value of each column that mentions an address; a value that was only the address
    becomes NULL where the column allows it."""
    values: dict[str, Any] = {}
    for column in columns:
        value = row[column]
        if value is None:
            continue
        new = addresses.scrub_json(value) if isinstance(column.type, JSON) else addresses.scrub(value)
        if new != value:
            values[column.name] = None if new == MASK and column.nullable else new
    return values


_Keyed = TypeVar("_Keyed", Suppression, Consent)


def _address_rows(session: Session, shop: Shop, model: type[_Keyed], addresses: Addresses) -> list[_Keyed]:
    rows = session.scalars(select(model).where(model.shop_id == shop.id, _mentioning([model.address], addresses)))
    return [row for row in rows if addresses.found_in(row.address)]


def _hash_suppressions(session: Session, shop: Shop, addresses: Addresses, secret_key: str) -> int:
    """A suppression survives as the keyed hash of its address: later sends to it are still refused."""
    rows = _address_rows(session, shop, Suppression, addresses)
    for row in rows:
        hashed = address_hash(secret_key, row.address)
        twin = select(Suppression.id).where(
            Suppression.shop_id == shop.id, Suppression.channel == row.channel, Suppression.address == hashed
        )
        if session.scalar(twin) is not None:
            session.delete(row)
        else:
            row.address = hashed
    session.flush()
    return len(rows)


def _drop_consents(session: Session, shop: Shop, addresses: Addresses) -> int:
    """Consent records go: a refusal that must outlive them is a suppression (above)."""
    rows = _address_rows(session, shop, Consent, addresses)
    for row in rows:
        session.delete(row)
    session.flush()
    return len(rows)
