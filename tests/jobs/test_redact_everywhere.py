"""customers/redact, end to end, erases every address of the customer from everywhere we write.

One customer, three checkouts with different emails and phone numbers (one a guest checkout
reached only through a number of another), messages by email and SMS, a Twilio error and an
inbound STOP that echo numbers, a SendGrid bounce, a refused webhook and an export. The redact
names only the customer id and one email. Afterwards every column of every table, every Redis
key and value, and every log record is searched for each address in any spelling: none is left,
and the suppressions still refuse the addresses."""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import logging
import pickle
import re
import zlib

from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from shop_app.storage.database import transaction
from shop_app.storage.tables import Base, Profile, Shop, Suppression
from tests.jobs import test_twilio_channel
from tests.jobs.test_twilio_channel import post_callback
from tests.support import DrainWorker
from tests.webhooks.test_sendgrid_events import event, post_events, public_key_text

twilio_store = test_twilio_channel.twilio_store  # the demo shop with its Twilio account (a fixture)

ABANDONED = "2026-03-02T12:00:00+01:00"  # Monday noon in Madrid
FIRST_DUE = "2026-03-02T12:00:00+00:00"
PRIME_RELEASED = "2026-03-03T08:00:00+00:00"  # 09:00 Madrid: the SMS goes out
CUSTOMER = {"id": 7001, "first_name": "Ana", "last_name": "Ruiz"}

EMAILS = ("ana@example.com", "ana.ruiz@work.example", "a.r.private@example.net")
#: Each number as the test writes it, and the national number every spelling ends with.
PHONES = {
    "+49 30 86472913": "3086472913",  # c1's contact phone; it texts STOP
    "+49 171 3982745": "1713982745",  # c1's SMS marketing number; Twilio reports 21610 for it
    "+43 664 5172938": "6645172938",  # c2's phone; Twilio refuses it, quoting it back
}
SEPARATORS = re.compile(r"[\s\-./()]")


def found_addresses(text: str) -> list[str]:
    """Every address of the customer in `text`: emails in any case, numbers in any spelling
    (separators are dropped, so "+49 30 8647 2913", "0049308647…" and "030 86472913" all count)."""
    lowered, digits_only = text.lower(), SEPARATORS.sub("", text)
    return [e for e in EMAILS if e in lowered] + [p for p, core in PHONES.items() if core in digits_only]


# --- what there is to search ----------------------------------------------------------------------


def table_texts(rt) -> list[str]:
    """Every value of every row of every table, as text."""
    with rt.engine.connect() as conn:
        return [
            f"{table.name}.{column}: {json.dumps(value, default=str)}"
            for table in Base.metadata.sorted_tables
            for row in conn.execute(table.select())
            for column, value in row._mapping.items()
            if value is not None
        ]


def readable(value: bytes) -> str:
    """A Redis value as text, with what RQ compresses (job data, exception info) and base64-encodes
    (results) opened up; pickled strings are plain UTF-8 inside."""
    texts = [value.decode("utf-8", "replace")]
    with contextlib.suppress(zlib.error):
        texts.append(readable(zlib.decompress(value)))
    with contextlib.suppress(binascii.Error, ValueError):
        texts.append(readable(base64.b64decode(value, validate=True)))
    return "\n".join(texts)


def redis_texts(redis) -> list[str]:
    """Every key of the Redis database and everything stored under it."""
    found = []
    for key in redis.scan_iter():
        kind = redis.type(key).decode()
        parts: list[bytes] = [key]
        if kind == "string":
            parts.append(redis.get(key))
        elif kind == "hash":
            parts += [b for pair in redis.hgetall(key).items() for b in pair]
        elif kind == "list":
            parts += redis.lrange(key, 0, -1)
        elif kind == "set":
            parts += list(redis.smembers(key))
        elif kind == "zset":
            parts += [member for member, _ in redis.zrange(key, 0, -1, withscores=True)]
        elif kind == "stream":
            parts += [b for _, fields in redis.xrange(key) for pair in fields.items() for b in pair]
        found += [readable(part) for part in parts if part]
    return found


def log_texts(caplog) -> list[str]:
    return [record.getMessage() + (f"\n{record.exc_text}" if record.exc_text else "") for record in caplog.records]


def scan(rt, caplog) -> dict[str, list[str]]:
    """Where each address turns up: {"place: address": [the texts it was found in]}."""
    hits: dict[str, list[str]] = {}
    places = {"table": table_texts(rt), "redis": redis_texts(rt.redis), "log": log_texts(caplog)}
    for place, texts in places.items():
        for text in texts:
            for address in found_addresses(text):
                hits.setdefault(f"{place}: {address}", []).append(text[:300])
    return hits


# --- the story -----------------------------------------------------------------------------------


def inbound(store, twilio_api, sender: str, body: str, **extra: str):
    """An incoming SMS, signed by the shop's Twilio account; `extra` adds Twilio's own fields."""
    url = "http://localhost:8080/webhooks/twilio/inbound/demo-shop.myshopify.com"
    params, _ = twilio_api.inbound(sender, "+15005550006", body, url)
    params.update(extra)
    signature = RequestValidator(twilio_api.auth_token).compute_signature(url, params)
    response = store.client.post(
        url.removeprefix("http://localhost:8080"), data=params, headers={"X-Twilio-Signature": signature}
    )
    assert response.status_code == 200


def checkouts(store) -> None:
    """c1 and c2 are the customer's (they carry the id); c3 is a guest checkout with c2's number
    spelled another way, so only that number leads to it and to its email; an old profile holds
    the number as it was typed."""
    c1 = {"phone": "+49 30 86472913", "sms_marketing_phone": "+491713982745", "customer": CUSTOMER}
    c2 = {"phone": "+436645172938", "customer": {**CUSTOMER, "email": EMAILS[1]}}
    c3 = {"phone": "0043 664 5172938", "customer": None}
    for token, email, fields in (("c1", EMAILS[0], c1), ("c2", EMAILS[1], c2), ("c3", EMAILS[2], c3)):
        store.deliver("checkouts/create", store.checkout(token, ABANDONED, email=email, **fields))
    with transaction(store.rt.sessions) as session:  # kept before phones were stored in E.164
        shop_id = session.scalar(select(Shop.id))
        session.add(Profile(shop_id=shop_id, phone="+43 664 517 29 38", origin="capture"))


def messages_and_answers(store, twilio_api, signer) -> None:
    twilio_api.fail_for("+436645172938", 21211, message="The 'To' number +43 664 5172938 is not a valid phone number.")
    store.tick(FIRST_DUE)  # the first emails
    store.tick(PRIME_RELEASED)  # the SMS: c1's goes out, c2's and c3's are refused
    refused = [m for m in store.messages(channel="sms") if m["status"] == "failed"]
    assert len(refused) == 2 and all("<address>" in m["reason"] for m in refused)  # stored without the number
    [sent] = twilio_api.messages
    assert sent.params["To"] == "+491713982745"
    assert (
        post_callback(store, *twilio_api.status_callback(sent.resource["sid"], "undelivered", 21610)).status_code == 200
    )
    # Advanced Opt-Out classified a reply that quotes the number as STOP.
    inbound(store, twilio_api, "+493086472913", "STOP 030 86472913", OptOutType="STOP")
    with transaction(store.rt.sessions) as session:
        stop = session.scalar(select(Suppression.reason).where(Suppression.address == "+493086472913"))
        assert stop is not None and stop.startswith("replied 'STOP <address>'")

    first = store.message(checkout_token="c1", step="first", channel="email")
    bounce = event("bounce", first["id"], email=EMAILS[0], type="bounce", status="5.1.1",
                   reason=f"550 5.1.1 <{EMAILS[0]}>: unknown; try +49 30 86472913")  # fmt: skip
    unjoined = event("dropped", 999999, email=EMAILS[1], reason=f"Bounced Address {EMAILS[1]}")
    assert post_events(store.client, signer, [bounce, unjoined]).status_code == 200

    refused = store.checkout("c2", "2026-03-03T10:00:00+01:00", email=EMAILS[1], total_price="lots")
    store.deliver("checkouts/update", refused)  # refused as unusable: its body is kept
    request = {"shop_id": 1, "shop_domain": store.domain, "customer": {"id": 7001, "email": EMAILS[0]}}
    store.deliver("customers/data_request", {**request, "data_request": {"id": 9001}})


def test_customer_redact_leaves_no_address_in_any_table_redis_key_or_log(twilio_store, twilio_api, caplog, monkeypatch):
    store = twilio_store
    caplog.set_level(logging.DEBUG)
    signer = ec.generate_private_key(ec.SECP256R1())  # SendGrid's signing key
    monkeypatch.setattr(
        store.rt, "settings", store.rt.settings.with_overrides(sendgrid_webhook_public_key=public_key_text(signer))
    )
    checkouts(store)
    messages_and_answers(store, twilio_api, signer)
    before = scan(store.rt, caplog)
    assert {hit.split(": ", 1)[1] for hit in before} == set(EMAILS) | set(PHONES)  # the search can find each one

    store.deliver(
        "customers/redact",
        {
            "shop_id": 1,
            "shop_domain": store.domain,
            "customer": {"id": 7001, "email": EMAILS[0]},
            "orders_to_redact": [],
        },
    )
    after = scan(store.rt, caplog)
    print(f"addresses found after the redact: {sum(len(texts) for texts in after.values())}")
    assert after == {}

    with transaction(store.rt.sessions) as session:
        kept = session.scalars(select(Suppression)).all()
        assert len(kept) == 3 and all(s.address.startswith("hmac-sha256:") for s in kept)
    # The same person comes back with the number that texted STOP and the email that bounced.
    store.deliver(
        "checkouts/create", store.checkout("c4", "2026-03-04T12:00:00+01:00", email=EMAILS[0], phone="+493086472913")
    )
    store.tick("2026-03-04T12:00:00+00:00")
    store.tick("2026-03-05T08:00:00+00:00")
    c4 = {m["channel"]: m for m in store.messages(checkout_token="c4")}
    assert (c4["email"]["status"], c4["email"]["reason"][:11]) == ("skipped", "suppressed:")
    assert (c4["sms"]["status"], c4["sms"]["reason"][:11]) == ("skipped", "suppressed:")


def test_the_search_reads_what_rq_compresses_and_encodes_and_every_log_record(rt, caplog):
    """The search above can fail: it finds an address in an RQ job's arguments (pickled, then
    compressed), in its result (pickled, then base64) and in a log record."""
    caplog.set_level(logging.DEBUG)
    assert EMAILS[0] in readable(zlib.compress(pickle.dumps({"to": EMAILS[0]})))
    assert "86472913" in readable(base64.b64encode(pickle.dumps("+49 30 86472913")))
    rt.queue.queues["send"].enqueue("builtins.str", "call 030 86472913", result_ttl=60)
    DrainWorker(list(rt.queue.queues.values()), connection=rt.redis).work(burst=True, logging_level="WARNING")
    logging.getLogger("probe").info("mail to %s", EMAILS[1].upper())
    assert set(scan(rt, caplog)) == {"redis: +49 30 86472913", f"log: {EMAILS[1]}"}
