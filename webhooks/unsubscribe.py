"""The unsubscribe link: `GET /u/<token>` asks, `POST /u/<token>` unsubscribes.

RFC 8058 one-click: mail clients POST `List-Unsubscribe=One-Click` without cookies and get a 200
(never a redirect). A GET never unsubscribes, because scanners and link previews fetch links: it
shows a page whose button POSTs. Any POST with a valid token unsubscribes, whatever its body; repeats
are harmless (one row per shop, channel and address).
"""

from __future__ import annotations

import logging

from flask import Blueprint, current_app
from markupsafe import escape
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from shop_app.compliance.privacy import address_hash
from shop_app.messaging.unsubscribe import BadUnsubscribeToken, UnsubscribeTarget, UnsubscribeTokens
from shop_app.storage.database import transaction
from shop_app.storage.tables import Shop, Suppression

log = logging.getLogger(__name__)
bp = Blueprint("unsubscribe", __name__, url_prefix="/u")

REASON = "unsubscribed by one-click link"
#: An HTML answer: body, status, headers.
_Page = tuple[str, int, dict[str, str]]

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{title}</title></head>
<body style="font-family: sans-serif; max-width: 32rem; margin: 3rem auto; padding: 0 1rem">
<h1>{title}</h1>
{body}
</body></html>"""


def _page(code: int, title: str, body: str) -> _Page:
    html = _PAGE.format(title=escape(title), body=body)
    return (
        html,
        code,
        {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )


def _target(token: str) -> UnsubscribeTarget:
    return UnsubscribeTokens(current_app.extensions["reclaim"].settings.secret_key).read(token)


def _bad_link() -> _Page:
    return _page(
        400,
        "This link is not valid",
        "<p>The unsubscribe link is incomplete or was changed. "
        "Please use the link from the latest email you received.</p>",
    )


def _unknown_shop() -> _Page:
    return _page(
        404,
        "Store not found",
        "<p>This store no longer uses our service; you will not receive more messages from it through us.</p>",
    )


@bp.get("/<token>")
def confirm(token: str) -> _Page:
    try:
        target = _target(token)
    except BadUnsubscribeToken:
        return _bad_link()
    with transaction(current_app.extensions["reclaim"].sessions) as session:
        shop = session.get(Shop, target.shop_id)
        name = shop.name if shop else None
    if name is None:
        return _unknown_shop()
    return _page(
        200,
        "Unsubscribe",
        (
            f"<p>Stop receiving reminder emails from <strong>{escape(name)}</strong>?</p>"
            f'<form method="post" action="">'
            f'<input type="hidden" name="List-Unsubscribe" value="One-Click">'
            f'<button type="submit">Unsubscribe</button></form>'
        ),
    )


@bp.post("/<token>")
def one_click(token: str) -> _Page:
    try:
        target = _target(token)
    except BadUnsubscribeToken:
        return _bad_link()
    runtime = current_app.extensions["reclaim"]
    try:
        with transaction(runtime.sessions) as session:
            shop = session.get(Shop, target.shop_id)
            if shop is None:
                return _unknown_shop()
            name = shop.name
            # An erased customer's earlier opt-out survives only as a keyed hash.
            known = [target.address, address_hash(runtime.settings.secret_key, target.address)]
            exists = session.scalar(
                select(Suppression.id).where(
                    Suppression.shop_id == shop.id,
                    Suppression.channel == target.channel,
                    Suppression.address.in_(known),
                )
            )
            if exists is None:
                session.add(
                    Suppression(
                        shop_id=shop.id,
                        channel=target.channel,
                        address=target.address,
                        reason=REASON,
                        source="unsubscribe",
                    )
                )
    except IntegrityError:  # a concurrent click inserted the same row first
        pass
    log.info("shop %s: %s address unsubscribed by link", target.shop_id, target.channel)
    return _page(
        200,
        "You are unsubscribed",
        f"<p>You will not receive more reminder emails from <strong>{escape(name)}</strong>.</p>",
    )
