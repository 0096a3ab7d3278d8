"""The referral results (issue 11, point 7) from a story played through the real webhooks, dispatcher,
send job and the development Admin API, read by `reclaim report` and by the admin's /flows card, which
share one read model: Ana's invite is sent; Bea buys with her code (rewarded, the reward sent), Ana uses
her own code (refused), Cai buys with it and is fully refunded before the reward goes (cancelled). So:
1 invite sent, 3 codes redeemed, 1 referred order of 84.90 EUR, 1 reward issued."""

from __future__ import annotations

from datetime import UTC, datetime

from admin_ui.pages import flows
from tests.admin_ui.pages.test_flows import page, text_of
from tests.referral.e2e import ANA, ana_advocates, friend_order, reclaim, rewards, send_due_rewards
from tests.tokens import session_token

NOW = datetime(2026, 3, 16, 9, 0, tzinfo=UTC)


def _story(store) -> None:
    code = ana_advocates(store)  # the invite is sent on 10 March
    store.deliver("orders/paid", friend_order(store, 9501, "bea@example.com", 7501, code))
    send_due_rewards(store)  # Bea's reward is sent (issued)
    ana_again = friend_order(store, 9502, ANA, 7001, code, at="2026-03-12T12:00:00+01:00")
    store.deliver("orders/paid", ana_again)  # refused: the friend is the advocate
    store.deliver(
        "orders/paid", friend_order(store, 9503, "cai@example.com", 7503, code, at="2026-03-13T12:00:00+01:00")
    )
    refund = {"id": 801, "order_id": 9503, "created_at": "2026-03-13T15:00:00Z",
              "transactions": [{"id": 8010, "kind": "refund", "status": "success", "amount": "84.90",
                                "currency": "EUR"}]}  # fmt: skip
    store.deliver("refunds/create", refund)  # before Cai's reward was sent: cancelled
    assert [status for status, _ in rewards(store)] == ["issued", "refused", "cancelled"]


def test_reclaim_report_shows_the_storys_referral_figures(store) -> None:
    _story(store)
    result = reclaim("report", "--shop", store.domain, "--now", NOW.isoformat())
    assert result.exit_code == 0, result.output
    block = result.output.split("Referral Generation\n", 1)[1]
    figures = {line[:44].strip(): line[44:].split() for line in block.splitlines() if line.strip()}
    assert figures["Referral invites sent"][:2] == ["1", "0"], block
    assert figures["Referral codes redeemed"][:2] == ["3", "0"], block
    assert figures["Referred orders"][:2] == ["1", "0"], block
    assert figures["Referred revenue (EUR)"][:2] == ["84.90", "0.00"], block
    assert figures["Advocate rewards issued"][:2] == ["1", "0"], block


def test_the_admins_flows_card_shows_the_same_figures(rt, store, client, monkeypatch) -> None:
    _story(store)
    monkeypatch.setattr(flows, "_now", lambda: NOW)
    settings = rt.settings

    def sign_in(shop: str) -> str:
        return session_token(shop, api_key=settings.shopify_api_key, secret=settings.shopify_api_secret)

    html = page(client, sign_in, "/flows", store.domain)
    assert text_of(html, "flow-referral-results") == (
        "Result Last 15 days 15 days before Change "
        "Referral invites sent 1 0 new Referral codes redeemed 3 0 new Referred orders 1 0 new "
        "Referred revenue (EUR) 84.90 0.00 new Advocate rewards issued 1 0 new"
    )
