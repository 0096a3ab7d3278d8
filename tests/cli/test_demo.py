"""`reclaim demo` tells the whole story on embedded defaults and exits 0."""

from __future__ import annotations

import re
import urllib.request

import pytest

from shop_app.cli.demo import run_demo

pytestmark = pytest.mark.slow  # the whole demo: its own Redis server, the web app on a port, 48 simulated hours


def test_demo_walks_48_hours_prints_the_timeline_and_serves_the_admin(tmp_path):
    lines: list[str] = []
    visited: dict[str, tuple[int, str]] = {}

    def visit(sign_in_url: str) -> None:
        """What a merchant does with the printed URL: open it, land on the admin's home page."""
        with urllib.request.urlopen(sign_in_url, timeout=10) as response:  # follows the redirect
            visited["home"] = (response.status, response.read().decode())
        base = sign_in_url.split("/dev/")[0]
        with urllib.request.urlopen(f"{base}/dev/stand-ins/app-bridge.js", timeout=10) as response:
            visited["stand-in"] = (response.status, response.read().decode())

    assert run_demo(tmp_path / "demo", out=lines.append, serve=visit) == 0
    text = "\n".join(lines)
    assert re.search(r"  http://127\.0\.0\.1:\d+/dev/sign-in\?shop=casa-lino\.myshopify\.com", text)
    status, home = visited["home"]
    assert status == 200 and "Casa Lino" in home and "https://cdn.shopify.com/shopifycloud/polaris-1.js" in home
    assert visited["stand-in"][0] == 200
    assert "Lucía    whatsapp whatsapp cancelled: paid: order #1042" in text
    assert "Marc     whatsapp whatsapp now due Tue 03 Mar 09:00 (outside delivery window" in text
    assert "Tue 03 Mar 09:00    Marc     whatsapp whatsapp SENT to +34611000004" in text
    assert "Sofía    prime    sms      SENT to +34611000002" in text
    assert "a visitor leaves no contact details: HTTP 200, not reachable" in text
    assert "Jonas updates his checkout twice: HTTP 200, planned: 4 new" in text
    assert "Jonas takes a third mug: HTTP 200, planned: 0 new, 4 moved" in text
    assert "Jonas    whatsapp whatsapp skipped: no consent: no phone marketing consent" in text
    assert "  sent: 4 email, 2 sms, 4 whatsapp" in text
    assert "  not sent: 6 cancelled, 4 skipped" in text
    assert "  recovered: 2 order(s), 58.41 EUR attributed" in text
    # Elena's order exists only in Shopify: the live payment check finds it.
    assert "Elena    first    email    skipped: paid: order #1001" in text
    assert "(found through the Admin API)" in text
    # Prime's offer is a unique code created through the Admin API, the same for both channels of the step.
    codes = set(re.findall(r"PRIME-[2-9A-HJKMNP-Z]{12}", text))
    assert len(codes) == 2 and "15% off" in text
    assert re.search(r"2 unique code\(s\) created: PRIME-\w+, PRIME-\w+", text)
    outbox = (tmp_path / "demo" / "outbox.jsonl").read_text().splitlines()
    assert len(outbox) == 10
    # Each sent message is printed as the customer reads it, rendered from the templates.
    assert "│ Hi Marc," in text and "│ - 1 x Oak side table (189.00 EUR)" in text
    assert re.search(r"│ Finish your order: http://127\.0\.0\.1:\d+/c/[\w-]+", text)  # the tracked link, to the app
    assert re.search(
        r"│ Hi Sofia, Casa Lino kept your cart \(1 x Wool blanket, 129.00 EUR\)\. Code PRIME-\w+: 15% off", text
    )
    assert "Reply STOP to opt out" in text
