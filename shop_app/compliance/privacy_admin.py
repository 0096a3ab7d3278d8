"""The admin's privacy page: the suppression list a page at a time, staff lifting a customer's own
opt-out, and the customers/data_request exports.

Lifting rules:
- Only an opt-out the customer made themselves can be lifted: a STOP keyword or our one-click
  unsubscribe link (`LIFTABLE`), e.g. after they asked the shop by phone to hear from it again.
  A provider's suppression (a bounce, a spam complaint, a carrier opt-out) cannot: the provider
  would refuse or punish the next send, and only the provider can clear it.
- An erased customer's opt-out (kept as a keyed hash) cannot: nobody can say who asked.
- Lifting removes the address from the list and nothing else. It does not grant consent: the
  consent record stays withdrawn, and a message goes out again only when a consent rule allows
  it. Who lifted it (the session token's `sub`) and when are kept in `suppression_lifts`.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from shop_app.compliance.row_json import row_json
from shop_app.errors import ReclaimError
from shop_app.storage.keyset import DEFAULT_LIMIT, Page, fetch_page, mapped
from shop_app.storage.tables import DataRequest, Suppression, SuppressionLift

#: Sources of a suppression a staff member may lift, and what each means.
LIFTABLE = {"keyword": "STOP reply", "unsubscribe": "one-click unsubscribe"}
SOURCE_NAMES = {**LIFTABLE, "provider": "provider (bounce, complaint, carrier opt-out)"}
ERASED_PREFIX = "hmac-sha256:"
MAX_STAFF_ID = 64

_Owned = TypeVar("_Owned", Suppression, DataRequest)


class LiftRefused(ReclaimError):
    """This suppression may not be lifted; the message says why."""


def is_erased(address: str) -> bool:
    return address.startswith(ERASED_PREFIX)


def why_not_liftable(row: Suppression) -> str | None:
    """None when staff may lift the suppression, else the reason they may not."""
    if is_erased(row.address):
        return "the customer's data was erased; their opt-out is kept as a hash and stays"
    if row.source not in LIFTABLE:
        return (
            "a provider suppressed this address (a bounce, a complaint or a carrier opt-out); "
            "only the provider can clear it"
        )
    return None


def suppression_json(row: Suppression) -> dict[str, Any]:
    erased = is_erased(row.address)
    return {
        **row_json(row, ("id", "channel", "reason", "source", "since"), {"since": "created_at"}),
        "address": None if erased else row.address,
        "erased": erased,
        "source_name": SOURCE_NAMES.get(row.source, row.source),
        "liftable": why_not_liftable(row) is None,
        "not_liftable_because": why_not_liftable(row),
    }


def suppression_page(
    session: Session,
    shop_id: int,
    *,
    after: str | None = None,
    before: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> Page[dict]:
    """The shop's suppressions, newest first."""
    query = select(Suppression).where(Suppression.shop_id == shop_id)
    page = fetch_page(session, query, Suppression.id, lambda row: row[0].id, after=after, before=before, limit=limit)
    return mapped(page, lambda row: suppression_json(row[0]))


def _of_shop(model: type[_Owned], shop_id: int, row_id: int) -> Select[_Owned]:
    """The query for one row of `model` by id, only when the shop owns it."""
    return select(model).where(model.id == row_id, model.shop_id == shop_id)


def find_suppression(session: Session, shop_id: int, suppression_id: int) -> Suppression | None:
    return session.scalar(_of_shop(Suppression, shop_id, suppression_id))


def lift_suppression(
    session: Session, shop_id: int, suppression_id: int, *, staff_user: str, now: datetime
) -> SuppressionLift | None:
    """Lift one of the shop's suppressions for `staff_user`; None when the shop has no such row,
    LiftRefused when it may not be lifted. The consent record is left as it is."""
    row = session.scalar(_of_shop(Suppression, shop_id, suppression_id).with_for_update())
    if row is None:
        return None
    refusal = why_not_liftable(row)
    if refusal is not None:
        raise LiftRefused(refusal)
    lift = SuppressionLift(
        shop_id=shop_id,
        channel=row.channel,
        address=row.address,
        reason=row.reason,
        source=row.source,
        suppressed_at=row.created_at,
        lifted_by=staff_user[:MAX_STAFF_ID],
        lifted_at=now,
    )
    session.add(lift)
    session.delete(row)
    session.flush()
    return lift


def lift_json(lift: SuppressionLift) -> dict[str, Any]:
    return row_json(lift, ("id", "channel", "address", "reason", "source", "suppressed_at", "lifted_by", "lifted_at"))


def recent_lifts(session: Session, shop_id: int, limit: int = 10) -> list[dict]:
    """The latest lifts, newest first, for the page's audit list."""
    query = select(SuppressionLift).where(SuppressionLift.shop_id == shop_id)
    rows = session.scalars(query.order_by(SuppressionLift.id.desc()).limit(limit))
    return [lift_json(row) for row in rows]


# --- customers/data_request exports ---------------------------------------------------------------


def export_page(
    session: Session,
    shop_id: int,
    *,
    after: str | None = None,
    before: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> Page[dict]:
    """The shop's data-request exports, newest first (without their contents)."""
    columns = (DataRequest.id, DataRequest.shopify_request_id, DataRequest.customer_id, DataRequest.email,
               DataRequest.phone, DataRequest.created_at)  # fmt: skip
    query = select(*columns).where(DataRequest.shop_id == shop_id)
    page = fetch_page(session, query, DataRequest.id, lambda row: row.id, after=after, before=before, limit=limit)
    return mapped(page, lambda row: row_json(row, row._fields))


def export_for(session: Session, shop_id: int, export_id: int) -> DataRequest | None:
    """One export of this shop with its contents; None when the shop has no such export."""
    return session.scalar(_of_shop(DataRequest, shop_id, export_id))


def export_document(row: DataRequest) -> str:
    """The export as the merchant downloads it (the admin's /api/exports/<id>, `reclaim privacy
    exports DOMAIN ID`): the request's ids and time, then what was found, as indented JSON."""
    request = {"id": row.id, "shopify_request_id": row.shopify_request_id, "received_at": row.created_at.isoformat()}
    return json.dumps({"data_request": request, **row.export}, indent=2, ensure_ascii=False) + "\n"
