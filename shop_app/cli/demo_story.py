"""The demo's story (demo_data/story.json) and the webhook bodies it becomes: checkouts and paid
orders shaped as Shopify sends them, for `reclaim demo` (demo.py) to post."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from importlib import resources
from typing import Any

#: A part of demo_data/story.json, as JSON gives it.
Spec = dict[str, Any]


def load_story() -> Spec:
    story: Spec = json.loads(
        resources.files("shop_app.cli").joinpath("demo_data/story.json").read_text(encoding="utf-8")
    )
    return story


def checkout_payload(spec: Spec, at: datetime, domain: str) -> dict[str, object]:
    items = [
        {"title": t, "variant_title": v, "quantity": q, "price": p, "line_price": str(Decimal(p) * q)}
        for t, v, q, p in spec["items"]
    ]
    total = sum(Decimal(i["line_price"]) for i in items)
    stamp = at.isoformat()
    return {
        "token": spec["token"],
        "cart_token": f"cart-{spec['token']}",
        "email": spec["email"],
        "phone": spec["phone"],
        "buyer_accepts_marketing": False,
        "buyer_accepts_sms_marketing": spec["sms"],
        "created_at": stamp,
        "updated_at": stamp,
        "completed_at": None,
        "currency": "EUR",
        "presentment_currency": "EUR",
        "total_price": str(total),
        "abandoned_checkout_url": f"https://{domain}/70001/checkouts/ac/{spec['token']}/recover?key=demo",
        "line_items": items,
        "customer": {"first_name": spec["first_name"], "email": spec["email"], "phone": spec["phone"]},
    }


def order_payload(
    spec: Spec, at: datetime, domain: str, *, customer_id: str | None = None, codes: tuple[str, ...] = ()
) -> dict[str, object]:
    """A paid order as Shopify sends it: `customer_id` is Shopify's customer (None: a guest),
    `codes` the discount codes the buyer entered."""
    return {
        "id": spec["id"],
        "name": spec["name"],
        "checkout_token": spec.get("checkout_token"),
        "email": spec["email"],
        "created_at": at.isoformat(),
        "financial_status": "paid",
        "currency": "EUR",
        "total_price": spec["total"],
        "buyer_accepts_marketing": True,
        "order_status_url": f"https://{domain}/70001/orders/{spec['id']}/authenticate?key=demo",
        "discount_codes": [{"code": code, "amount": "0.00", "type": "percentage"} for code in codes],
        "customer": (
            {"id": int(customer_id), "email": spec["email"], "first_name": spec.get("first_name")}
            if customer_id
            else None
        ),
    }
