"""Tracked links: signed tokens that carry (message, target), `GET /c/<token>` counting the click
once per message and redirecting, and nothing else ever redirecting anywhere."""

from __future__ import annotations

import base64

import pytest
from sqlalchemy import select

from shop_app.messaging.links import BadClickToken, ClickTarget, click_token, read_click_token, tracked_url
from shop_app.storage.database import transaction
from shop_app.storage.tables import Message, MessageEvent

SECRET = "a-secret-key-of-sixteen+"
APP_URL = "http://localhost:8080"
CART = "https://demo-shop.myshopify.com/71234/checkouts/ac/c1/recover?key=k1&discount=BACK10"


def send_first_email(store) -> int:
    store.deliver("checkouts/create", store.checkout("c1", "2026-03-02T19:00:00+01:00"))
    store.tick("2026-03-02T19:00:00+00:00")
    row = store.message(step="first")
    assert row["status"] == "sent"
    return row["id"]


def path_for(rt, message_id: int, target: str = CART) -> str:
    url = tracked_url(rt.settings.secret_key, rt.settings.shopify_app_url, message_id, target)
    assert url.startswith(rt.settings.shopify_app_url + "/c/")
    return url.removeprefix(rt.settings.shopify_app_url)


def click_rows(rt) -> list[MessageEvent]:
    with transaction(rt.sessions) as session:
        found = session.scalars(select(MessageEvent).where(MessageEvent.provider == "reclaim")).all()
        session.expunge_all()
        return found


def delivery_status(rt, message_id: int) -> str | None:
    with transaction(rt.sessions) as session:
        return session.get(Message, message_id).delivery_status


# --- tokens --------------------------------------------------------------------------------------------
def test_token_round_trips_and_stays_short():
    token = click_token(SECRET, 123456, CART)
    assert read_click_token(SECRET, token) == ClickTarget(123456, CART)
    assert len(token) <= (len(CART) + 21) * 4 // 3 + 1  # the target, 9 bytes of header, a 12-byte tag
    assert tracked_url(SECRET, APP_URL + "/", 123456, CART) == f"{APP_URL}/c/{token}"


@pytest.mark.parametrize(
    "target",
    [
        "javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "ftp://files.example.com/cart",
        "//evil.example/cart",  # scheme-relative: the browser would pick the scheme
        "/relative/path",
        "https://",  # no host
        "https://demo-shop.myshopify.com/cart\r\nSet-Cookie: x=1",
        "https://demo shop.example/",
        "https:\\\\evil.example",
        "",
        "https://example.com/" + "a" * 3000,
    ],
)
def test_only_absolute_http_targets_can_be_minted(target):
    with pytest.raises(ValueError):
        tracked_url(SECRET, APP_URL, 1, target)


def test_ids_must_be_row_ids():
    for bad in (0, -1, 2**63, "7"):
        with pytest.raises(ValueError):
            click_token(SECRET, bad, CART)


def _raw(token: str) -> bytes:
    return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))


def _swap_target(genuine: str) -> str:
    """The tag of a genuine token on a payload pointing somewhere else."""
    elsewhere = click_token(SECRET, 5, "https://evil.example/")
    return base64.urlsafe_b64encode(_raw(elsewhere)[:-12] + _raw(genuine)[-12:]).decode().rstrip("=")


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[: len(t) // 2] + ("A" if t[len(t) // 2] != "A" else "B") + t[len(t) // 2 + 1 :],  # one character
        lambda t: t[:-1],  # truncated
        lambda t: t + "A",  # extended
        lambda t: t[:20],
        lambda t: "not-a-token",
        lambda t: t.replace(t[5], "+", 1),  # outside base64url
        lambda t: "x" * 5000,
        _swap_target,
    ],
)
def test_altered_tokens_are_refused(mangle):
    with pytest.raises(BadClickToken):
        read_click_token(SECRET, mangle(click_token(SECRET, 5, CART)))


def test_a_token_from_another_key_is_refused():
    with pytest.raises(BadClickToken):
        read_click_token("another-secret-key-1234", click_token(SECRET, 5, CART))


# --- HTTP ----------------------------------------------------------------------------------------------
def test_a_click_redirects_to_the_target_and_is_recorded(store, client, rt):
    message_id = send_first_email(store)
    response = client.get(path_for(rt, message_id))
    assert response.status_code == 302
    assert response.headers["Location"] == CART
    assert response.headers["Cache-Control"] == "no-store"

    [row] = click_rows(rt)
    assert (row.message_id, row.event, row.provider_id, row.detail) == (
        message_id,
        "clicked",
        str(message_id),
        "clicked 1 time",
    )
    assert row.raw["clicks"] == 1 and row.raw["last_url"] == CART
    assert delivery_status(rt, message_id) == "clicked"


def test_repeated_clicks_are_counted_on_one_row(store, client, rt):
    message_id = send_first_email(store)
    other = "https://demo-shop.myshopify.com/products/linen-shirt"
    for path in (path_for(rt, message_id), path_for(rt, message_id), path_for(rt, message_id, other)):
        assert client.get(path).status_code == 302
    [row] = click_rows(rt)
    assert (row.raw["clicks"], row.raw["last_url"], row.detail) == (3, other, "clicked 3 times")
    assert row.raw["first_at"] <= row.raw["last_at"]


def test_a_head_request_redirects_without_counting(store, client, rt):
    message_id = send_first_email(store)
    response = client.head(path_for(rt, message_id))
    assert (response.status_code, response.headers["Location"]) == (302, CART)
    assert click_rows(rt) == []


def test_a_tampered_token_gets_a_400_page_and_no_redirect(store, client, rt):
    message_id = send_first_email(store)
    path = path_for(rt, message_id)
    middle = len(path) // 2 + 2
    tampered = path[:middle] + ("A" if path[middle] != "A" else "B") + path[middle + 1 :]
    for bad in (tampered, "/c/not-a-token", "/c/" + "A" * 40):
        response = client.get(bad)
        assert response.status_code == 400, bad
        assert "Location" not in response.headers
        assert "not valid" in response.get_data(as_text=True)
    assert click_rows(rt) == []


def test_a_token_minted_with_another_key_is_refused_by_the_route(store, client, rt):
    message_id = send_first_email(store)
    token = click_token("another-secret-key-1234", message_id, "https://evil.example/")
    response = client.get(f"/c/{token}")
    assert response.status_code == 400 and "Location" not in response.headers


def test_a_click_on_a_deleted_message_still_reaches_the_cart(store, client, rt):
    message_id = send_first_email(store)
    path = path_for(rt, message_id)
    with transaction(rt.sessions) as session:
        session.delete(session.get(Message, message_id))
    response = client.get(path)
    assert (response.status_code, response.headers["Location"]) == (302, CART)
    assert click_rows(rt) == []


def test_a_click_on_a_message_id_we_never_had_still_redirects(client, rt):
    response = client.get(path_for(rt, 987654))
    assert (response.status_code, response.headers["Location"]) == (302, CART)


@pytest.mark.parametrize("failure", ["bounced", "undelivered"])
def test_a_click_on_a_message_a_provider_called_failed_says_it_arrived(store, client, rt, failure):
    """A followed link is the customer's word that the message reached them (a carrier's late
    "undelivered", a forwarded email): the status moves to clicked, what the report counts."""
    message_id = send_first_email(store)
    with transaction(rt.sessions) as session:
        session.get(Message, message_id).delivery_status = failure  # as the provider's callback left it
    assert client.get(path_for(rt, message_id)).status_code == 302
    assert delivery_status(rt, message_id) == "clicked"
