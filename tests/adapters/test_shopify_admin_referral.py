"""The referral flow's Admin API calls (issue 11) against the development server, over real HTTP:
the advocate's shared code, the reward code, and finding a code with its title."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from shop_app.adapters.shopify_admin import AdminClient, RetryPolicy
from shop_app.config import Settings
from shop_app.devtools.admin_api import AdminApiServer
from shop_app.domain.discounts import random_bytes_needed
from shop_app.domain.referral_codes import (
    ReferralCodeSpec,
    referral_bytes_needed,
    referral_code,
    referral_title,
    reward_code,
    reward_spec,
    reward_title,
)
from shop_app.errors import AdminApiUnavailable, DiscountCodeTaken

NOW = datetime.now(UTC).replace(microsecond=0)
POLICY = RetryPolicy(max_attempts=3, base_delay=1.0, max_delay=30.0)


@pytest.fixture(scope="module")
def server():
    with AdminApiServer() as running:
        yield running


@pytest.fixture
def shop(server):
    domain = f"shop-{os.urandom(4).hex()}.myshopify.com"
    server.add_shop(
        domain,
        name="Demo Shop",
        email="owner@demo.example",
        iana_timezone="Europe/Madrid",
        currency_code="EUR",
        primary_domain_host="demo.example",
        country_code="ES",
    )
    return domain


@pytest.fixture
def waits() -> list[float]:
    return []


@pytest.fixture
def api(server, tmp_path, shop, waits):
    settings = Settings.from_env({"RECLAIM_INSTANCE_DIR": str(tmp_path)}).with_overrides(
        shopify_admin_base_url=server.admin_base_url
    )
    with AdminClient(settings, shop, server.issue_token(shop), sleep=waits.append, policy=POLICY) as client:
        yield client


def shared_spec(name: str = "Ana") -> ReferralCodeSpec:
    return ReferralCodeSpec(
        referral_code(name, os.urandom(referral_bytes_needed())), referral_title(1, 2), Decimal(10), NOW
    )


def test_the_advocate_code_is_shared_once_per_customer_without_end(server, api, shop) -> None:
    spec = shared_spec()
    created = api.create_referral_code(spec)
    [stored] = server.discounts(shop)
    assert created.id == stored.id and spec.code.startswith("ANA-") and len(spec.code) == 10
    sent = stored.input
    assert sent["usageLimit"] is None and sent["endsAt"] is None and sent["appliesOncePerCustomer"] is True
    assert sent["context"] == {"all": "ALL"} and "customerSelection" not in sent
    assert sent["customerGets"]["value"] == {"percentage": 0.1}
    assert api.find_code_titled(spec.code.lower()) == (created.id, referral_title(1, 2))


def test_the_reward_is_single_use_for_the_advocate_and_ends_in_60_days(server, api, shop) -> None:
    spec = reward_spec(reward_code(os.urandom(random_bytes_needed())), reward_title(1, 3), "6214912893", NOW)
    created = api.create_discount_code(spec)
    [stored] = server.discounts(shop)
    assert created.id == stored.id and spec.code.startswith("THANKS-")
    sent = stored.input
    assert sent["usageLimit"] == 1 and sent["context"] == {"customers": {"add": ["gid://shopify/Customer/6214912893"]}}
    assert (datetime.fromisoformat(sent["endsAt"]) - NOW).days == 60
    assert api.find_code_titled(spec.code) == (created.id, reward_title(1, 3))


def test_an_unknown_code_is_not_found(api) -> None:
    assert api.find_code_titled("NOBODY-2345AB") is None


def test_throttled_and_5xx_are_retried_into_one_code(server, api, shop, waits) -> None:
    server.inject_throttled(currently_available=0.0)
    server.inject_status(503)
    api.create_referral_code(shared_spec())
    assert len(server.discounts(shop)) == 1 and len(waits) == 2


def test_a_lost_answer_is_taken_and_the_title_tells_it_is_ours(server, api, shop) -> None:
    """The create succeeded but the 500 hid it; the retry meets TAKEN. For a readable code the
    client does not guess: it raises, and the title shows the code is ours."""
    spec = shared_spec()
    server.inject_status(500, after_processing=True)
    with pytest.raises(DiscountCodeTaken):
        api.create_referral_code(spec)
    [stored] = server.discounts(shop)
    assert api.find_code_titled(spec.code) == (stored.id, spec.title)


def test_a_code_someone_else_holds_is_taken_with_their_title(server, api, shop) -> None:
    spec = shared_spec()
    server.add_discount(shop, spec.code, "Summer sale")
    with pytest.raises(DiscountCodeTaken):
        api.create_referral_code(spec)
    found = api.find_code_titled(spec.code)
    assert found is not None and found.title == "Summer sale"


def test_answers_lost_on_every_attempt_give_up_with_the_code_created(server, api, shop) -> None:
    server.inject_status(500, count=POLICY.max_attempts, after_processing=True)
    spec = shared_spec()
    with pytest.raises(AdminApiUnavailable):
        api.create_referral_code(spec)
    assert [d.code for d in server.discounts(shop)] == [spec.code]  # the next job finds it by its code
