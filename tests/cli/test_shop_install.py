"""`reclaim shop install | list | uninstall` (issue 14, item 2) through click, against the real
database, the development Admin API (schema-validated) and the real webhook routes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from shop_app.cli.commands import main
from shop_app.devtools.admin_webhooks import subscriptions_of
from shop_app.shopify.custom_app import webhook_topics
from shop_app.shopify.shop_secrets import PROVIDER, forget_cached
from shop_app.shopify.topics import COMPLIANCE_TOPICS
from shop_app.storage.channel_tables import ChannelConnection
from shop_app.storage.database import transaction
from shop_app.storage.tables import Profile, Shop
from tests.support import ShopifyStore

DOMAIN = "casa-lino.myshopify.com"
SECRET = "shpss_custom_app_secret_0123456789"


@pytest.fixture
def run(rt):
    forget_cached()

    def invoke(*args: str):
        return CliRunner().invoke(main, list(args), catch_exceptions=False)

    return invoke


@pytest.fixture
def token(rt, admin_api):
    admin_api.add_shop(DOMAIN, name="Casa Lino", iana_timezone="Europe/Madrid", currency_code="EUR", country_code="ES")
    before = datetime(2025, 1, 1, tzinfo=UTC)
    admin_api.add_customer(DOMAIN, first_name="Old", email="old@example.com", created_at=before)
    return admin_api.issue_token(DOMAIN)


def shop_row(rt) -> Shop | None:
    with transaction(rt.sessions) as session:
        found = session.scalar(select(Shop).where(Shop.domain == DOMAIN))
        if found is not None:
            session.expunge(found)
        return found


def test_install_checks_the_token_subscribes_the_webhooks_and_runs_the_setup(run, rt, admin_api, token):
    done = run("shop", "install", DOMAIN, "--token", token)
    assert done.exit_code == 0, done.output
    topics = webhook_topics()
    assert done.output.splitlines() == [
        f"installed {DOMAIN} (Casa Lino, Europe/Madrid, EUR, ES)",
        f"webhooks: {len(topics)} subscription(s) created, 0 already there, 0 moved from an old app URL",
        "webhook signatures: SHOPIFY_API_SECRET",
        f"setup: set up {DOMAIN}: 1 existing customer(s) imported",
    ]
    assert token not in done.output
    subscribed = subscriptions_of(admin_api, DOMAIN)
    assert sorted((s.topic, s.uri) for s in subscribed) == sorted(
        (t.replace("/", "_").upper(), f"{rt.settings.shopify_app_url}/webhooks/{t}") for t in topics
    )
    assert not set(COMPLIANCE_TOPICS) & set(topics) and "orders/paid" in topics
    shop = shop_row(rt)
    assert shop is not None and shop.status == "installed" and shop.setup_completed_at is not None
    assert token not in (shop.access_token or "") and rt.box.open(shop.access_token) == token
    with transaction(rt.sessions) as session:
        assert session.scalars(select(Profile.origin)).all() == ["imported"]

    again = run("shop", "install", DOMAIN, "--token", token)
    assert again.exit_code == 0, again.output
    assert f"webhooks: 0 subscription(s) created, {len(topics)} already there" in again.output
    assert len(admin_api.graphql_requests("WebhookSubscriptionCreate")) == len(topics)  # none the second time
    assert shop_row(rt).installed_at == shop.installed_at  # a re-run keeps the install's time


def test_a_token_shopify_refuses_stores_nothing(run, rt, admin_api, token):
    wrong = "shpat_" + "0" * 32
    refused = run("shop", "install", DOMAIN, "--token", wrong)
    assert refused.exit_code == 1
    assert refused.output == f"Error: {DOMAIN} not installed: Shopify refused the access token (401)\n"
    assert shop_row(rt) is None and admin_api.graphql_requests("WebhookSubscriptions") == []


def test_an_admin_api_that_does_not_answer_is_one_line(run, rt, admin_api, token):
    admin_api.inject_status(503, count=2)
    refused = run("shop", "install", DOMAIN, "--token", token)
    assert refused.exit_code == 1
    assert refused.output == f"Error: {DOMAIN} not installed: the Admin API did not answer (HTTP 503)\n"
    assert token not in refused.output and shop_row(rt) is None


def test_another_shops_token_is_refused(run, rt, admin_api, token):
    other = admin_api.issue_token("other-shop.myshopify.com")
    admin_api.shop("other-shop.myshopify.com").domain = DOMAIN  # answers as if it were another shop
    refused = run("shop", "install", "other-shop.myshopify.com", "--token", other)
    assert refused.exit_code == 1 and "the token is casa-lino.myshopify.com's" in refused.output


def test_a_reinstall_changes_zone_and_currency_only_with_update(run, rt, admin_api, token):
    assert run("shop", "install", DOMAIN, "--token", token).exit_code == 0
    refused = run("shop", "install", DOMAIN, "--token", token, "--timezone", "UTC", "--currency", "usd")
    assert refused.exit_code == 1
    assert refused.output == (
        f"Error: {DOMAIN} is installed; this would change its time zone Europe/Madrid → UTC and currency EUR → USD: "
        "add --update to change them (nothing was changed)\n"
    )
    admin_api.shop(DOMAIN).iana_timezone = "Atlantic/Canary"  # Shopify's own answer moved
    moved = run("shop", "install", DOMAIN, "--token", token)
    assert moved.exit_code == 0  # a re-run without options keeps the stored ones (issue 14 review)
    assert (shop_row(rt).timezone, shop_row(rt).currency) == ("Europe/Madrid", "EUR")

    updated = run("shop", "install", DOMAIN, "--token", token, "--currency", "USD", "--update")
    assert updated.exit_code == 0, updated.output
    assert (shop_row(rt).timezone, shop_row(rt).currency) == ("Atlantic/Canary", "USD")


def test_the_custom_apps_own_secret_verifies_its_webhooks(run, rt, client, admin_api, token):
    done = run("shop", "install", DOMAIN, "--token", token, "--api-secret", SECRET)
    assert done.exit_code == 0, done.output
    assert "webhook signatures: the custom app's own API secret" in done.output and SECRET not in done.output
    with transaction(rt.sessions) as session:
        sealed = session.scalar(select(ChannelConnection.secret).where(ChannelConnection.provider == PROVIDER))
    assert sealed is not None and SECRET not in sealed and rt.box.open(sealed) == SECRET

    again = run("shop", "install", DOMAIN, "--token", token)  # without --api-secret: the stored one stays
    assert "webhook signatures: the custom app's own API secret" in again.output

    store = ShopifyStore(rt, client, DOMAIN, admin_api)
    body = store.checkout("c-own", "2026-03-02T19:00:00+01:00", email="ana@example.com")
    assert store.post("checkouts/create", body, secret=SECRET).status_code == 200
    assert store.post("checkouts/create", body).status_code == 200  # the app's own secret still verifies
    assert store.post("checkouts/create", body, secret="not-the-secret-at-all").status_code == 401


def test_without_its_own_secret_only_the_apps_secret_verifies(run, rt, client, admin_api, token):
    assert run("shop", "install", DOMAIN, "--token", token).exit_code == 0
    store = ShopifyStore(rt, client, DOMAIN, admin_api)
    body = store.checkout("c-app", "2026-03-02T19:00:00+01:00", email="ana@example.com")
    assert store.post("checkouts/create", body, secret=SECRET).status_code == 401
    assert store.post("checkouts/create", body).status_code == 200


def test_a_subscription_shopify_refuses_is_one_line(run, rt, admin_api, token):
    rt.settings = rt.settings.with_overrides(shopify_app_url="http://reclaim.example.com")  # not https
    refused = run("shop", "install", DOMAIN, "--token", token)
    assert refused.exit_code == 1
    assert refused.output == (
        f"Error: {DOMAIN} is stored, but registering its webhooks failed: Shopify refused the checkouts/create "
        "subscription: Address protocol http:// is not supported; run it again\n"
    )
    assert shop_row(rt).status == "installed" and subscriptions_of(admin_api, DOMAIN) == []


def test_bad_options_are_refused_before_shopify_is_asked(run, rt, admin_api, token):
    zone = run("shop", "install", DOMAIN, "--token", token, "--timezone", "Mars/Olympus")
    assert zone.exit_code == 2 and "unknown time zone" in zone.output
    short = run("shop", "install", DOMAIN, "--token", token, "--api-secret", "x")
    assert short.exit_code == 1 and "--api-secret" in short.output and shop_row(rt) is None
    assert admin_api.graphql_requests() == []


def test_list_and_uninstall(run, rt, client, admin_api, token):
    empty = run("shop", "list")
    assert empty.exit_code == 0 and empty.output.startswith("no shops yet")
    other = ShopifyStore.install(rt, client, "other-shop.myshopify.com")  # no plan read yet
    assert run("shop", "list").output.splitlines()[1].endswith("not read yet (no limit)")
    with transaction(rt.sessions) as session:
        session.delete(session.scalar(select(Shop).where(Shop.domain == other.domain)))
    assert run("shop", "install", DOMAIN, "--token", token, "--now", "2026-03-01T10:00:00Z").exit_code == 0
    store = ShopifyStore(rt, client, DOMAIN, admin_api)
    store.deliver("checkouts/create", store.checkout("c-1", "2026-03-02T19:00:00+01:00", email="ana@example.com"))
    assert store.messages(status="scheduled")

    listed = run("shop", "list")
    assert listed.exit_code == 0
    header, row = listed.output.splitlines()
    assert header.split() == ["DOMAIN", "STATUS", "INSTALLED", "(UTC)", "PLAN"]
    # The setup job read the plan: the development Admin API's store is a development store.
    assert row.split()[:4] == [DOMAIN, "installed", "2026-03-01", "10:00"] and row.endswith("(unlimited)")
    assert token not in listed.output

    gone = run("shop", "uninstall", DOMAIN)
    assert gone.exit_code == 0, gone.output
    assert gone.output.startswith(f"uninstalled {DOMAIN}: app uninstalled: ") and "cancelled" in gone.output
    assert store.messages(status="scheduled") == [] and store.messages(status="cancelled")
    shop = shop_row(rt)
    assert shop.status == "uninstalled" and shop.access_token is None
    assert run("shop", "list").output.splitlines()[1].split()[1] == "uninstalled"
    assert run("shop", "uninstall", DOMAIN).output == f"{DOMAIN} is not installed; nothing to do\n"
    unknown = run("shop", "uninstall", "nobody.myshopify.com")
    assert unknown.exit_code == 1 and unknown.output == "Error: no shop nobody.myshopify.com is installed\n"


def test_the_compliance_topics_cannot_be_subscribed_through_the_api(admin_api):
    """Only shopify.app.toml (or the Partner Dashboard) sets them: the schema's enum has none."""
    from graphql import GraphQLEnumType

    schema = admin_api.schema
    if schema is None:
        pytest.skip("the 2026-07 schema is in ../shared only")
    topic_enum = schema.get_type("WebhookSubscriptionTopic")
    assert isinstance(topic_enum, GraphQLEnumType)
    names = set(topic_enum.values)
    assert {t.replace("/", "_").upper() for t in webhook_topics()} <= names
    assert not {t.replace("/", "_").upper() for t in COMPLIANCE_TOPICS} & names
