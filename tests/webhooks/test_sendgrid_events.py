"""SendGrid's Signed Event Webhook: signatures made here exactly as SendGrid makes them (ECDSA
P-256 over timestamp + raw body), posted through the real route, joined to messages sent by
a real journey, and a bounce stopping the next email through the send job."""

from __future__ import annotations

import base64
import itertools
import json
import time

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import select

from shop_app.adapters.email import EmailMessageSpec, SendGridTransport
from shop_app.adapters.outgoing import OutgoingMessage, SendResult, SendStatus
from shop_app.compliance.privacy import address_hash
from shop_app.domain.email_events import InvalidBatch, InvalidEvent, decode_batch, parse_sendgrid_event
from shop_app.storage.database import transaction
from shop_app.storage.tables import Consent, Message, MessageEvent, Suppression
from tests.support import ShopifyStore
from webhooks.sendgrid_events import SIGNATURE_HEADER, TIMESTAMP_HEADER

URL = "/webhooks/sendgrid/events"
DOMAIN = "demo-shop.myshopify.com"
ADDRESS = "ana@example.com"  # the fixture checkout's email
ABANDONED = "2026-03-02T19:00:00+01:00"
FIRST_DUE = "2026-03-02T19:00:00+00:00"


# --- helpers ----------------------------------------------------------------------------------------
def public_key_text(private_key: ec.EllipticCurvePrivateKey) -> str:
    """The verification key as SendGrid's settings page shows it: base64 DER SubjectPublicKeyInfo."""
    der = private_key.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode()


def signed_headers(private_key, body: bytes, timestamp: int | None = None) -> dict:
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    signature = private_key.sign(stamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return {
        SIGNATURE_HEADER: base64.b64encode(signature).decode(),
        TIMESTAMP_HEADER: stamp,
        "Content-Type": "application/json",
    }


@pytest.fixture
def signer(rt, monkeypatch):
    """SendGrid's signing key; the app is configured with its public half."""
    key = ec.generate_private_key(ec.SECP256R1())
    monkeypatch.setattr(rt, "settings", rt.settings.with_overrides(sendgrid_webhook_public_key=public_key_text(key)))
    return key


def post_events(client, key, events, **header_changes):
    body = json.dumps(events).encode()
    headers = signed_headers(key, body)
    headers.update(header_changes)
    return client.post(URL, data=body, headers=headers)


def event(kind: str, message_id, *, shop: str = DOMAIN, email: str = ADDRESS, event_id: str | None = None, **extra):
    payload = {
        "email": email,
        "timestamp": 1772478300,
        "event": kind,
        "sg_event_id": event_id or f"ev-{kind}-{message_id}",
        "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
        "smtp-id": "<14c5d75ce93.dfd.64b469@ismtpd-555>",
        "reclaim_message_id": str(message_id),
        "reclaim_shop": shop,
    }
    payload.update(extra)
    return payload


def send_first_email(store, token: str = "c1", abandoned: str = ABANDONED, at: str = FIRST_DUE) -> int:
    store.deliver("checkouts/create", store.checkout(token, abandoned))
    store.tick(at)
    row = store.message(checkout_token=token, step="first")
    assert row["status"] == "sent", row
    return row["id"]


def message_row(rt, message_id: int) -> Message:
    with transaction(rt.sessions) as session:
        message = session.get(Message, message_id)
        session.expunge(message)
        return message


def email_consent(rt) -> Consent | None:
    with transaction(rt.sessions) as session:
        found = session.scalar(select(Consent).where(Consent.channel == "email", Consent.address == ADDRESS))
        session.expunge_all()
        return found


def rows(rt, table):
    with transaction(rt.sessions) as session:
        found = session.scalars(select(table).order_by(table.id)).all()
        session.expunge_all()
        return found


def events(rt):
    """What SendGrid told us (the send job also keeps the transport's own answer as an event)."""
    with transaction(rt.sessions) as session:
        found = session.scalars(
            select(MessageEvent).where(MessageEvent.provider == "sendgrid").order_by(MessageEvent.id)
        ).all()
        session.expunge_all()
        return found


# --- configuration and signature -------------------------------------------------------------------
def test_without_a_public_key_the_endpoint_refuses_with_503(rt, client):
    assert rt.settings.sendgrid_webhook_public_key is None
    response = client.post(URL, data=b"[]", headers={"Content-Type": "application/json"})
    assert response.status_code == 503
    assert "SENDGRID_WEBHOOK_PUBLIC_KEY" in response.get_json()["error"]


@pytest.mark.parametrize("configured", ["not base64 at all!", base64.b64encode(b"not a key").decode()])
def test_an_unusable_public_key_answers_503_not_500(rt, client, monkeypatch, configured):
    monkeypatch.setattr(rt, "settings", rt.settings.with_overrides(sendgrid_webhook_public_key=configured))
    response = client.post(URL, data=b"[]")
    assert response.status_code == 503
    assert "unusable" in response.get_json()["error"]


def test_a_pem_wrapped_key_is_accepted_too(rt, client, monkeypatch):
    key = ec.generate_private_key(ec.SECP256R1())
    pem = f"-----BEGIN PUBLIC KEY-----\n{public_key_text(key)}\n-----END PUBLIC KEY-----\n"
    monkeypatch.setattr(rt, "settings", rt.settings.with_overrides(sendgrid_webhook_public_key=pem))
    assert post_events(client, key, []).status_code == 200


def test_a_correctly_signed_empty_batch_is_accepted(signer, client):
    response = post_events(client, signer, [])
    assert response.status_code == 200
    assert response.get_json() == {
        "status": "accepted",
        "events": 0,
        "stored": 0,
        "duplicates": 0,
        "unjoined": 0,
        "ignored": 0,
        "invalid": 0,
    }


def _forged(signer, client, case: str):
    body = json.dumps([event("bounce", 1)]).encode()
    headers = signed_headers(signer, body)
    if case == "no headers":
        headers = {}
    elif case == "no timestamp":
        del headers[TIMESTAMP_HEADER]
    elif case == "another key":
        headers = signed_headers(ec.generate_private_key(ec.SECP256R1()), body)
    elif case == "body changed after signing":
        body = body.replace(b"bounce", b"delivered")
    elif case == "timestamp changed after signing":
        headers[TIMESTAMP_HEADER] = str(int(headers[TIMESTAMP_HEADER]) - 1)
    elif case == "signature not base64":
        headers[SIGNATURE_HEADER] = "%%%not-base64%%%"
    elif case == "timestamp not a number":
        headers[TIMESTAMP_HEADER] = "yesterday"
    elif case == "signed over the body only":
        headers[SIGNATURE_HEADER] = base64.b64encode(signer.sign(body, ec.ECDSA(hashes.SHA256()))).decode()
    return client.post(URL, data=body, headers=headers)


@pytest.mark.parametrize(
    "case",
    [
        "no headers",
        "no timestamp",
        "another key",
        "body changed after signing",
        "timestamp changed after signing",
        "signature not base64",
        "timestamp not a number",
        "signed over the body only",
    ],
)
def test_missing_or_forged_signatures_are_refused_with_403(signer, client, rt, case):
    response = _forged(signer, client, case)
    assert response.status_code == 403, response.get_json()
    assert events(rt) == []


@pytest.mark.parametrize("offset", [-2 * 3600, -3601, +3600])
def test_a_replayed_old_or_far_future_timestamp_is_refused_with_403(signer, client, offset):
    body = json.dumps([event("delivered", 1)]).encode()
    response = client.post(URL, data=body, headers=signed_headers(signer, body, int(time.time()) + offset))
    assert response.status_code == 403
    assert "window" in response.get_json()["error"]


@pytest.mark.parametrize("body", [b"{", b'{"event": "bounce"}', b'"[]"', b"\xff\xfe", b"[" * 100_000, b""])
def test_signed_bodies_that_are_not_a_json_array_are_400(signer, client, body):
    response = client.post(URL, data=body, headers=signed_headers(signer, body))
    assert response.status_code == 400
    assert "error" in response.get_json()


def test_an_oversized_body_is_413(signer, client):
    body = b"[" + b" " * (3 * 1024 * 1024) + b"]"
    response = client.post(URL, data=body, headers=signed_headers(signer, body))
    assert response.status_code == 413


# --- joining, statuses, duplicates ---------------------------------------------------------------------
@pytest.mark.parametrize("order", list(itertools.permutations(["processed", "delivered", "open"])))
def test_statuses_only_move_forward_whatever_order_events_arrive_in(signer, store, client, rt, order):
    message_id = send_first_email(store)
    for kind in order:  # one request per event, as SendGrid's batches may split them
        response = post_events(client, signer, [event(kind, message_id)])
        assert response.get_json()["stored"] == 1
    assert message_row(rt, message_id).delivery_status == "opened"
    assert sorted(e.event for e in events(rt)) == ["delivered", "opened", "queued"]


def test_a_bounce_is_final_for_the_message(signer, store, client, rt):
    message_id = send_first_email(store)
    post_events(
        client,
        signer,
        [
            event("bounce", message_id, status="5.1.1", reason="550 user unknown"),
            event("delivered", message_id),
            event("open", message_id),
        ],
    )
    message = message_row(rt, message_id)
    assert (message.delivery_status, message.delivery_detail) == ("bounced", "bounced: 5.1.1 550 user unknown")


def test_a_retried_batch_is_stored_once(signer, store, client, rt):
    message_id = send_first_email(store)
    batch = [event("delivered", message_id, response="250 OK")]
    first = post_events(client, signer, batch).get_json()
    again = post_events(client, signer, batch + batch).get_json()  # SendGrid retries; duplicates inside a batch too
    assert (first["stored"], first["duplicates"]) == (1, 0)
    assert (again["stored"], again["duplicates"]) == (0, 2)
    [row] = events(rt)
    assert (row.provider, row.provider_id, row.event, row.message_id) == (
        "sendgrid",
        f"ev-delivered-{message_id}",
        "delivered",
        message_id,
    )
    assert row.detail == "delivered: 250 OK"
    assert row.raw == batch[0]  # kept as SendGrid sent it


def test_events_without_sg_event_id_are_still_stored_once(signer, store, client, rt):
    message_id = send_first_email(store)
    dropped = event("dropped", message_id, reason="Spam Content")
    del dropped["sg_event_id"]
    post_events(client, signer, [dropped])
    post_events(client, signer, [dropped])
    [row] = events(rt)
    assert row.provider_id.startswith("sha256:") and row.event == "dropped"
    assert rows(rt, Suppression) == []  # our content was refused, not the address


# --- suppression ---------------------------------------------------------------------------------------
def test_a_bounce_suppresses_the_address_and_the_send_job_skips_the_next_email(signer, store, client, rt):
    message_id = send_first_email(store)
    response = post_events(
        client,
        signer,
        [
            event(
                "bounce",
                message_id,
                type="bounce",
                status="5.1.1",
                reason=f"550 5.1.1 <{ADDRESS.upper()}>: Recipient address rejected: User unknown",
            )
        ],
    )
    assert response.status_code == 200 and response.get_json()["stored"] == 1

    [suppression] = rows(rt, Suppression)
    reason = "email bounced: 5.1.1 550 5.1.1 <<address>>: Recipient address rejected: User unknown"
    assert (suppression.channel, suppression.address, suppression.reason) == ("email", ADDRESS, reason)
    assert email_consent(rt).source == "checkout"  # a bounce says nothing about the customer's wishes
    assert message_row(rt, message_id).delivery_status == "bounced"

    store.deliver("checkouts/create", store.checkout("c2", "2026-03-03T10:00:00+01:00"))
    store.tick("2026-03-03T10:00:00+00:00")
    second = store.message(checkout_token="c2", step="first")
    assert (second["status"], second["reason"]) == ("skipped", f"suppressed: {reason}")
    assert len([m for m in store.outbox() if m["channel"] == "email"]) == 1


def test_a_blocked_bounce_does_not_suppress_the_address(signer, store, client, rt):
    message_id = send_first_email(store)
    post_events(client, signer, [event("bounce", message_id, type="blocked", reason="IP listed on a blocklist")])
    assert message_row(rt, message_id).delivery_status == "bounced"
    assert rows(rt, Suppression) == []


@pytest.mark.parametrize(
    ("kind", "extra", "reason"),
    [
        ("spamreport", {}, "marked an email as spam"),
        ("unsubscribe", {}, "unsubscribed through SendGrid"),
        ("group_unsubscribe", {"asm_group_id": 7}, "unsubscribed through SendGrid"),
        ("dropped", {"reason": "Unsubscribed Address"}, "SendGrid dropped the email: the address unsubscribed before"),
    ],
)
def test_what_the_customer_did_suppresses_and_revokes_consent(signer, store, client, rt, kind, extra, reason):
    message_id = send_first_email(store)
    post_events(client, signer, [event(kind, message_id, **extra)])
    [suppression] = rows(rt, Suppression)
    assert (suppression.address, suppression.reason) == (ADDRESS, reason)
    consent = email_consent(rt)
    assert (consent.channel, consent.address, consent.state, consent.source) == (
        "email",
        ADDRESS,
        "revoked",
        "provider",
    )
    assert consent.recorded_at.timestamp() == 1772478300  # when the customer acted, not when we heard


# --- ids are claims, not facts ---------------------------------------------------------------------------
def test_an_event_naming_another_shops_message_is_kept_unjoined(signer, store, client, rt, admin_api):
    message_id = send_first_email(store)
    ShopifyStore.install(rt, client, "other-shop.myshopify.com", admin_api=admin_api)
    response = post_events(client, signer, [event("bounce", message_id, shop="other-shop.myshopify.com")])
    assert response.get_json()["unjoined"] == 1

    [row] = events(rt)
    assert row.message_id is None and row.event == "bounced"
    assert row.shop_id != message_row(rt, message_id).shop_id
    assert row.raw["email"] == address_hash(rt.settings.secret_key, ADDRESS)  # no customer will ever own this row
    assert message_row(rt, message_id).delivery_status == "sent"  # as the send left it: not "bounced"
    assert rows(rt, Suppression) == []


def test_an_event_for_another_address_is_kept_unjoined(signer, store, client, rt):
    message_id = send_first_email(store)
    response = post_events(client, signer, [event("spamreport", message_id, email="mallory@example.com")])
    assert response.get_json()["unjoined"] == 1
    assert events(rt)[0].message_id is None
    assert rows(rt, Suppression) == [] and email_consent(rt).source == "checkout"


def test_events_naming_no_shop_of_ours_are_ignored_and_malformed_elements_skipped(signer, store, client, rt):
    message_id = send_first_email(store)
    no_shop = event("delivered", message_id)
    del no_shop["reclaim_shop"]
    batch = [
        no_shop,
        event("delivered", message_id, shop="unknown-shop.myshopify.com"),
        event("delivered", message_id, shop="not a domain"),
        "not an event",
        {"email": ADDRESS},
    ]
    response = post_events(client, signer, batch)
    assert response.status_code == 200
    assert response.get_json() == {
        "status": "accepted",
        "events": 5,
        "stored": 0,
        "duplicates": 0,
        "unjoined": 0,
        "ignored": 3,
        "invalid": 2,
    }
    assert events(rt) == []


def test_an_unknown_event_is_kept_but_never_moves_the_status(signer, store, client, rt):
    message_id = send_first_email(store)
    post_events(
        client,
        signer,
        [event("delivered", message_id), event("group_resubscribe", message_id), event("brand_new_thing", message_id)],
    )
    assert message_row(rt, message_id).delivery_status == "delivered"
    unknown = [e for e in events(rt) if e.event == "unknown"]
    assert len(unknown) == 2 and all(e.message_id == message_id for e in unknown)
    assert "brand_new_thing" in unknown[1].detail
    assert rows(rt, Suppression) == []


# --- the pure mapping ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("processed", "queued"),
        ("delivered", "delivered"),
        ("deferred", "deferred"),
        ("bounce", "bounced"),
        ("dropped", "dropped"),
        ("open", "opened"),
        ("click", "clicked"),
        ("spamreport", "complained"),
        ("unsubscribe", "unsubscribed"),
        ("group_unsubscribe", "unsubscribed"),
        ("group_resubscribe", "unknown"),
        ("whatever", "unknown"),
    ],
)
def test_sendgrid_names_map_to_our_vocabulary(name, kind):
    assert parse_sendgrid_event(event(name, 5)).kind == kind


@pytest.mark.parametrize(
    ("reason", "suppressed", "revokes"),
    [
        ("Bounced Address", True, False),
        ("Invalid", True, False),
        ("Unsubscribed Address", True, True),
        ("Spam Reporting Address", True, True),
        ("Spam Content", False, False),
        ("Invalid SMTPAPI header", False, False),
    ],
)
def test_only_drops_that_blame_the_address_suppress_it(reason, suppressed, revokes):
    parsed = parse_sendgrid_event(event("dropped", 5, reason=reason))
    assert (parsed.suppress is not None, parsed.revokes_consent) == (suppressed, revokes)
    assert parsed.detail == f"dropped by SendGrid: {reason}"


@pytest.mark.parametrize(
    ("value", "expected"),
    [("42", 42), (42, 42), ("0", None), ("-1", None), ("4x", None), (True, None), (None, None), ("9" * 30, None)],
)
def test_message_references_must_be_plain_ids(value, expected):
    assert parse_sendgrid_event(event("open", 1, reclaim_message_id=value)).message_ref == expected


def test_a_machine_open_says_so():
    assert "machine open" in parse_sendgrid_event(event("open", 1, sg_machine_open=True)).detail


@pytest.mark.parametrize("raw", ["x", 3, None, [], {"email": ADDRESS}, {"event": 7}])
def test_elements_that_are_not_events_are_refused(raw):
    with pytest.raises(InvalidEvent):
        parse_sendgrid_event(raw)


def test_decode_batch_wants_an_array():
    assert decode_batch(b' [{"event": "open"}] ') == [{"event": "open"}]
    with pytest.raises(InvalidBatch):
        decode_batch(b'{"event": "open"}')


# --- the send side names message and shop -----------------------------------------------------------------
class CapturingSendGrid(SendGridTransport):
    def deliver(self, payload):
        self.payload = payload
        return SendResult(SendStatus.SENT, provider_id="sg-1")


def test_sendgrid_sends_message_id_and_shop_as_custom_args():
    def compose(message: OutgoingMessage) -> EmailMessageSpec:
        return EmailMessageSpec(
            from_name="Demo Shop",
            from_address="r@reclaim.example",
            to=message.to,
            subject="s",
            text=f"t {message.unsubscribe_url}",
            html=f"h {message.unsubscribe_url}",
            unsubscribe_url=message.unsubscribe_url,
            message_id=message.message_id,
        )

    transport = CapturingSendGrid("SG.k", compose=compose)
    transport.send(
        OutgoingMessage(42, DOMAIN, "email", ADDRESS, "s", "t", html="h", unsubscribe_url="https://reclaim.example/u/x")
    )
    assert transport.payload["custom_args"] == {"reclaim_message_id": "42", "reclaim_shop": DOMAIN}
    # and what comes back in an event joins on exactly these values
    back = parse_sendgrid_event({"event": "open", "email": ADDRESS, **transport.payload["custom_args"]})
    assert (back.message_ref, back.shop_ref) == (42, DOMAIN)
