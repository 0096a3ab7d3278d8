"""`GET /c/<token>`: count a click on a link in one of our messages, then 302 to its target.

Tokens come from shop_app.messaging.links.tracked_url. A token that does not verify gets a 400 page,
never a redirect, so nobody is sent to a URL we did not put in a message; a valid one always
redirects, even when the message row is gone or the database is down. HEAD requests (link checkers)
are not counted; scanners that GET every link are, so a "clicked" is a hint, not proof.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from flask import Blueprint, current_app, redirect, request
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import SQLAlchemyError

from shop_app.errors import describe
from shop_app.messaging.links import BadClickToken, read_click_token, record_click
from shop_app.storage.database import transaction

log = logging.getLogger(__name__)
bp = Blueprint("clicks", __name__)

_BAD_LINK = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>This link is not valid</title></head>
<body style="font-family: sans-serif; max-width: 32rem; margin: 3rem auto; padding: 0 1rem">
<h1>This link is not valid</h1>
<p>The link is incomplete or was changed. Please use the link from the email you received.</p>
</body></html>"""

_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


@bp.get("/c/<token>")
def follow(token: str) -> ResponseReturnValue:
    runtime = current_app.extensions["reclaim"]
    try:
        target = read_click_token(runtime.settings.secret_key, token)
    except BadClickToken:
        return _BAD_LINK, 400, {"Content-Type": "text/html; charset=utf-8", **_HEADERS}
    if request.method == "GET":
        try:
            with transaction(runtime.sessions) as session:
                count = record_click(session, target, datetime.now(UTC))
            if count is None:
                log.info("click on a link of message %s, which no longer exists", target.message_id)
        except SQLAlchemyError as exc:
            log.warning(
                "could not record a click on message %s (%s); redirecting anyway", target.message_id, describe(exc)
            )
    response = redirect(target.url, code=302)
    response.headers.update(_HEADERS)
    return response
