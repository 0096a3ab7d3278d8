"""Every admin page's Polaris and App Bridge markup is what Shopify's manifests define."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from tests.admin_ui.markup_spec import load_spec, markup_problems
from tests.conftest import shared_path
from tests.support import ShopifyStore

DOMAIN = "markup-shop.myshopify.com"
#: Every admin document; page modules add theirs (a detail page with an id the fixture creates).
PAGES = ["/"]


@pytest.fixture(scope="module")
def spec():
    return load_spec(
        shared_path("fixtures", "polaris", "custom-elements.json"), shared_path("fixtures", "app-bridge", "index.d.ts")
    )


@pytest.fixture
def signed_in(rt, client):
    ShopifyStore.install(rt, client, DOMAIN)
    location = client.get(f"/dev/sign-in?shop={DOMAIN}").headers["Location"]
    return parse_qs(urlsplit(location).query)["id_token"][0]


@pytest.mark.contract
@pytest.mark.parametrize("path", PAGES)
def test_the_page_uses_only_what_polaris_and_app_bridge_define(client, signed_in, spec, path):
    separator = "&" if "?" in path else "?"
    response = client.get(f"{path}{separator}shop={DOMAIN}&id_token={signed_in}", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert markup_problems(response.get_data(as_text=True), spec) == []


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
