"""customers/redact for a referral advocate (issue 11) leaves no trace of them: the real signed webhook,
the worker, then every column of every table, every Redis key and value and every log record is searched
for the advocate's email, phone number and name (their personal referral code is made from the name).

Zuleika was Bea's friend (her first order used Bea's code: Bea's reward) and became an advocate herself
(review, social mention and invite sent, by email and SMS; her own code made through the Admin API);
Carla's first order used Zuleika's code (Zuleika's reward). A referral journey has no checkout: it is
reached through Zuleika's profile. Afterwards her referral journey, its messages, her advocate row and
her rewards are gone; Bea's reward, of which she was the friend, stays without anything of hers; Bea's
and Carla's own data stays."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from shop_app.storage.database import transaction
from shop_app.storage.referral_tables import ReferralAdvocate, ReferralReward
from shop_app.storage.tables import DataRequest, Journey, Message, OrderRow, Profile
from tests.jobs.test_redact_everywhere import log_texts, redis_texts, table_texts

MADRID = ZoneInfo("Europe/Madrid")
ZULEIKA = {"id": 7077, "email": "zuleika.q@example.com", "phone": "+34611222333", "first_name": "Zuleika",
           "last_name": "Quixote"}  # fmt: skip
BEA = {"id": 7002, "email": "bea@example.com", "phone": "+34600333444", "first_name": "Bea", "last_name": "Ruiz"}
CARLA = {"id": 7003, "email": "carla@example.com", "phone": "+34600777888", "first_name": "Carla", "last_name": "Gil"}
#: What is Zuleika's, in any case; her number also in any spelling (separators dropped).
HERS = ("zuleika", "quixote")
HER_DIGITS = "611222333"
SEPARATORS = re.compile(r"[\s\-./()]")
#: Her steps go out by email and SMS (she ticked the SMS box at her checkout).
BY_EMAIL_AND_SMS = {"referral": {"review": {"channels": ["email", "sms"]}, "invite": {"channels": ["email", "sms"]}}}


def traces(texts: list[str]) -> list[str]:
    return [t[:200] for t in texts if any(w in t.lower() for w in HERS) or HER_DIGITS in SEPARATORS.sub("", t)]


def scan(rt, caplog) -> dict[str, list[str]]:
    places = {"table": table_texts(rt), "redis": redis_texts(rt.redis), "log": log_texts(caplog)}
    return {place: found for place, texts in places.items() if (found := traces(texts))}


def person(store, who: dict, token: str | None, order_id: int, at: datetime, code: str | None = None) -> None:
    """`who` abandons a checkout (when `token`), then pays an order, perhaps with an advocate's code."""
    customer = {k: who[k] for k in ("id", "email", "phone", "first_name", "last_name")}
    street = f"Calle {who['last_name']} 1"
    address = {"first_name": who["first_name"], "last_name": who["last_name"], "address1": street,
               "city": "Madrid", "zip": "28013", "country_code": "ES"}  # fmt: skip
    if token:
        checkout = store.checkout(token, (at - timedelta(hours=1)).isoformat(), email=who["email"], phone=who["phone"],
                                  customer=customer, billing_address=address)  # fmt: skip
        store.deliver("checkouts/create", checkout)
    order = store.order(token, at.isoformat(), id=order_id, name=f"#{order_id}", email=who["email"],
                        phone=who["phone"], customer=customer, billing_address=address, shipping_address=address,
                        discount_codes=[{"code": code, "amount": "8.49", "type": "percentage"}] if code else [],
                        buyer_accepts_marketing=True)  # fmt: skip
    store.deliver("orders/paid", order)


def becomes_an_advocate(store, order_id: int, fulfilled: datetime) -> str:
    """The order is fulfilled; the review (+3 d), social mention (+2 d) and invite (+2 d) go out. The code."""
    store.deliver("orders/fulfilled", {"id": order_id, "updated_at": fulfilled.isoformat()})
    for days in (3, 5, 7):
        store.tick(fulfilled + timedelta(days=days, minutes=1))
    with transaction(store.rt.sessions) as session:
        order = session.scalar(select(OrderRow.id).where(OrderRow.shopify_id == str(order_id)))
        journey = session.scalar(select(Journey.id).where(Journey.trigger_order_id == order))
        code = session.scalar(select(ReferralAdvocate.code).where(ReferralAdvocate.journey_id == journey))
    assert code, f"order {order_id}'s invite made no code"
    return code


def next_morning() -> datetime:
    """10:00 in Madrid tomorrow: a reward planned at the ingest's wall-clock time goes out then."""
    local = (datetime.now(MADRID) + timedelta(days=1)).replace(hour=10, minute=0, second=0, microsecond=0)
    return local.astimezone(UTC)


def counts(rt) -> dict[str, object]:
    with transaction(rt.sessions) as session:
        return {
            "referral journeys": session.scalar(select(func.count()).where(Journey.flow == "referral")),
            "advocates": session.scalar(select(func.count(ReferralAdvocate.id))),
            # (whose code, decision, the friend's profile's email)
            "rewards": {
                tuple(row)
                for row in session.execute(
                    select(ReferralAdvocate.code, ReferralReward.status, Profile.email)
                    .join(ReferralAdvocate, ReferralAdvocate.id == ReferralReward.advocate_id)
                    .outerjoin(Profile, Profile.id == ReferralReward.friend_profile_id)
                )
            },
            "profiles": sorted(session.scalars(select(Profile.email)).all()),
            "referral messages": session.scalar(select(func.count()).where(Message.flow == "referral")),
        }


def test_redacting_an_advocate_leaves_no_trace_of_their_referral_journey(store, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    store.set_settings(BY_EMAIL_AND_SMS)
    start = datetime(2026, 3, 1, 18, 0, tzinfo=UTC)
    person(store, BEA, "b1", 2001, start)
    bea_code = becomes_an_advocate(store, 2001, start + timedelta(hours=15))
    person(store, ZULEIKA, "z1", 3001, start + timedelta(days=8), code=bea_code)  # Bea's friend
    zuleika_code = becomes_an_advocate(store, 3001, start + timedelta(days=8, hours=15))
    assert zuleika_code.startswith("ZULEIKA-")
    person(store, CARLA, None, 4001, start + timedelta(days=16), code=zuleika_code)  # Zuleika's friend
    store.tick(next_morning())  # both rewards go out
    assert {m["status"] for m in store.messages(flow="referral", step="reward")} == {"sent"}
    assert {(m["step"], m["channel"], m["status"]) for m in store.messages(flow="referral", checkout_token="z1")} >= {
        ("review", "sms", "sent"), ("invite", "email", "sent"), ("invite", "sms", "sent")}  # fmt: skip
    store.deliver("customers/data_request", {"shop_id": 1, "shop_domain": store.domain,
                                             "customer": {"id": 7077, "email": ZULEIKA["email"]},
                                             "data_request": {"id": 9001}})  # fmt: skip
    with transaction(store.rt.sessions) as session:
        [export] = session.scalars(select(DataRequest.export)).all()
    [her_code] = export["referral_codes"]  # her own code and the reward Carla's order earned her, not Bea's
    assert her_code["code"] == zuleika_code and [r["status"] for r in her_code["rewards"]] == ["issued"]
    assert her_code["rewards"][0]["code"] and her_code["rewards"][0]["code"] != zuleika_code
    before = counts(store.rt)
    assert before["referral journeys"] == 3 and before["advocates"] == 2
    assert {(code, status) for code, status, _ in before["rewards"]} == {(bea_code, "issued"), (zuleika_code, "issued")}
    assert (bea_code, "issued", ZULEIKA["email"]) in before["rewards"]
    assert set(scan(store.rt, caplog)) >= {"table"}  # the search finds her before

    store.deliver("customers/redact", {"shop_id": 1, "shop_domain": store.domain,
                                       "customer": {"id": 7077, "email": ZULEIKA["email"]},
                                       "orders_to_redact": [3001]})  # fmt: skip
    left = scan(store.rt, caplog)
    print(f"traces of the advocate after the redact: {sum(len(found) for found in left.values())}")
    assert left == {}, left
    after = counts(store.rt)
    assert after["referral journeys"] == 2  # Bea's and Carla's
    assert after["advocates"] == 1  # Bea's
    assert after["rewards"] == {(bea_code, "issued", None)}  # Bea's reward stays; its friend is nobody now
    assert after["profiles"] == sorted([BEA["email"], CARLA["email"]])
    with transaction(store.rt.sessions) as session:
        bea_journey = session.scalar(select(Journey.id).join(Profile, Profile.id == Journey.profile_id)
                                     .where(Profile.email == BEA["email"]))  # fmt: skip
        assert session.scalar(select(func.count()).where(Message.journey_id == bea_journey)) >= 4
        assert session.scalar(select(ReferralAdvocate.code)) == bea_code
