"""Single-use discount codes made through the Admin API: one (`create_discount_code`) or several in
one request (`create_discount_codes`, issue 13: a batch send job's codes cost one round trip).

Each code is its own discount (DiscountCodeBasicCreate or DiscountCodeFreeShippingCreate, its own
usage limit, customer and expiry); the batched request only puts several of those mutations under
aliases in one document (shopify_admin_documents.discount_codes_create). Not
`discountRedeemCodeBulkAdd`: it adds codes to one discount, which then share its usage limit and
customer, and it runs asynchronously.

Shopify charges a mutation 10 points and refuses a request above 1,000: CODES_PER_REQUEST keeps a
request at a quarter of that, so it fits a Standard shop's bucket with room for the payment check.

If an earlier attempt of the request timed out or met a 5xx and the retry then finds a code TAKEN,
that earlier attempt created it: the code is unguessable, so the existing discount is ours.

`delete_discount_code` deletes one by its gid (customers/redact: the codes of an erased customer).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from shop_app.adapters.shopify_admin_operations import (
    discount_codes_operation,
    discount_create_operation,
    discount_delete_operation,
)
from shop_app.domain.discounts import DiscountSpec
from shop_app.errors import AdminApiError, AdminUserError, DiscountCodeTaken, ReclaimError

if TYPE_CHECKING:
    from shop_app.adapters.shopify_admin import AdminClient

#: Codes asked for in one request at most (10 points each).
CODES_PER_REQUEST = 25


class CreatedDiscount(NamedTuple):
    id: str
    code: str


def create_discount_code(client: AdminClient, spec: DiscountSpec) -> CreatedDiscount:
    """Create the single-use code; raises DiscountCodeTaken / AdminUserError on userErrors."""
    operation = discount_create_operation(spec)
    outcome = client.execute(operation)
    found = _created(client, spec, next(iter(outcome.data.values())), outcome.uncertain, operation.name)
    if isinstance(found, Exception):
        raise found
    return found


def create_discount_codes(client: AdminClient, specs: Sequence[DiscountSpec]) -> list[CreatedDiscount | ReclaimError]:
    """Create every code, CODES_PER_REQUEST to a request: for each spec, in order, the code created or
    what Shopify said of it (DiscountCodeTaken, AdminUserError, AdminApiError). A request Shopify
    could not answer (AdminApiUnavailable, …) is the answer of its own codes only, whose fate is then
    unknown, as for one code; the other requests' codes stand."""
    results: list[CreatedDiscount | ReclaimError] = []
    for start in range(0, len(specs), CODES_PER_REQUEST):
        run = list(specs[start : start + CODES_PER_REQUEST])
        operation = discount_codes_operation(run)
        try:
            outcome = client.execute(operation)
        except ReclaimError as error:
            results += [error] * len(run)
            continue
        for n, spec in enumerate(run):
            payload = outcome.data.get(f"c{n}")
            try:
                results.append(_created(client, spec, payload, outcome.uncertain, operation.name))
            except ReclaimError as error:  # the lookup of a code TAKEN after a lost answer failed
                results.append(error)
    return results


def _created(
    client: AdminClient, spec: DiscountSpec, payload: Any, uncertain: bool, name: str
) -> CreatedDiscount | ReclaimError:
    """One create's answer read: the discount, or the error it stands for."""
    if not isinstance(payload, dict):
        return AdminApiError(f"{name} returned no answer for one of its codes")
    errors = payload.get("userErrors") or []
    if errors:
        if any(error.get("code") == "TAKEN" for error in errors):
            existing = client.find_code(spec.code) if uncertain else None
            return CreatedDiscount(existing, spec.code) if existing else DiscountCodeTaken(spec.code, errors)
        return AdminUserError("; ".join(f"{e.get('code')}: {e.get('message')}" for e in errors), errors)
    node = payload.get("codeDiscountNode")
    if not node:
        return AdminApiError(f"{name} returned neither a discount nor userErrors")
    return CreatedDiscount(node["id"], spec.code)


def delete_discount_code(client: AdminClient, discount_id: str) -> bool:
    """Delete the code discount `discount_id`: True when Shopify deleted it, False when it has none
    of that id (deleted already, by the merchant or by an earlier attempt whose answer was lost).
    Shopify tells an unknown id by a userError on the mutation's one argument, `id`. Any other
    userError raises AdminUserError, told by its codes and fields only."""
    operation = discount_delete_operation(discount_id)
    payload = client.run(operation).get("discountCodeDelete")
    if not isinstance(payload, dict):
        raise AdminApiError(f"{operation.name} returned no answer")
    errors = payload.get("userErrors") or []
    if errors and all(error.get("field") == ["id"] for error in errors):
        return False
    if errors:
        told = "; ".join(f"{e.get('code') or 'error'} on {'.'.join(e.get('field') or ['input'])}" for e in errors)
        raise AdminUserError(f"{operation.name}: {told}", errors)
    if not payload.get("deletedCodeDiscountId"):
        raise AdminApiError(f"{operation.name} returned neither the deleted id nor userErrors")
    return True
