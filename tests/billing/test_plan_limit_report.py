"""A journey refused by the plan limit sends nothing, so the results report must not count it as
reachable or treated: it would lower the recovery rate and pull the holdout comparison towards no
effect for every shop that hits its limit (issue 14, item 1, against the report of issue 10)."""

from __future__ import annotations

from shop_app.devtools.admin_billing import billing_of
from tests.billing.test_billing import SHOP_A, recent, run_setup, sign_in, used_up  # noqa: F401 (sign_in: fixture)


def test_journeys_refused_by_the_plan_limit_are_not_reachable_in_the_report(rt, client, store, admin_api, sign_in):  # noqa: F811
    billing_of(admin_api).set_development(SHOP_A, False)
    run_setup(rt)  # Free: 50 a month
    used_up(rt, 50)
    for n in range(3):
        store.deliver("checkouts/create", store.checkout(f"over-{n}", recent()))
        assert {m["status"] for m in store.messages(checkout_token=f"over-{n}")} == {"skipped"}

    report = client.get("/api/report?days=7", headers={"Authorization": f"Bearer {sign_in(SHOP_A)}"}).get_json()
    assert report["abandoned"] >= 3  # recorded, never a silent drop
    assert (report["reachable"], report["journeys"]) == (0, {"control": 0, "treated": 0})
