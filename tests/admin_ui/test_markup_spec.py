"""Every admin page's Polaris and App Bridge markup is what Shopify's manifests define."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from shop_app.storage.database import transaction
from shop_app.storage.tables import Journey
from tests.admin_ui.markup_spec import load_spec, markup_problems
from tests.conftest import shared_path
from tests.support import ShopifyStore

DOMAIN = "markup-shop.myshopify.com"
#: Values for the admin documents' URL parameters; a new parameter must be added here.
EXAMPLE_VALUES = {"step": "first", "channel": "email", "language": "en"}


def admin_documents(app, journey_id: int) -> list[str]:
    """Every GET route of the admin pages, its parameters filled in."""
    values = {**EXAMPLE_VALUES, "journey_id": journey_id}
    paths = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("admin_ui.pages.") and "GET" in (rule.methods or ()):
            missing = rule.arguments - set(values)
            assert not missing, f"{rule.rule}: add example values for {sorted(missing)}"
            paths.append(rule.build({k: values[k] for k in rule.arguments})[1])
    return sorted(paths)


@pytest.fixture(scope="module")
def spec():
    return load_spec(
        shared_path("fixtures", "polaris", "custom-elements.json"), shared_path("fixtures", "app-bridge", "index.d.ts")
    )


@pytest.mark.contract
def test_every_page_uses_only_what_polaris_and_app_bridge_define(rt, app, client, spec):
    store = ShopifyStore.install(rt, client, DOMAIN)
    store.deliver("checkouts/create", store.checkout("markup-1", "2026-03-02T10:00:00+00:00"))
    with transaction(rt.sessions) as session:
        journey_id = session.scalar(select(Journey.id))
    token = parse_qs(urlsplit(client.get(f"/dev/sign-in?shop={DOMAIN}").headers["Location"]).query)["id_token"][0]
    checked = {}
    for path in admin_documents(app, journey_id):
        response = client.get(f"{path}?shop={DOMAIN}&id_token={token}", headers={"Accept": "text/html"})
        assert response.status_code == 200, path
        checked[path] = markup_problems(response.get_data(as_text=True), spec)
    print(f"checked {len(checked)} admin documents against the manifests")
    assert checked == {path: [] for path in checked}


@pytest.mark.contract
def test_the_check_can_fail(spec):
    bad = (
        '<s-page heading="x"><s-button variant="loud">Go</s-button><s-texfield label="a"></s-texfield>'
        '<s-text-field label="a" colour="red"></s-text-field><ui-save-bar discardConfirmation></ui-save-bar></s-page>'
    )
    assert markup_problems(bad, spec) == [
        "line 1: <s-button variant='loud'> is not one of ['auto', 'primary', 'secondary', 'tertiary']",
        "line 1: <s-texfield> is not a Polaris or App Bridge element",
        "line 1: <s-text-field> has no attribute 'colour'",
    ]
