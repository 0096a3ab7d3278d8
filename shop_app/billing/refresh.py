"""Reading a shop's plan when the setup could not, or long ago (issue 14 review).

- `read_state`: the shop's billing state, or None when the Admin API failed. The setup job
  (jobs/shop.py) goes on without it: a failed plan read must not hold back the shop's details
  and its customer import. It tries twice only (the reconciler's pass reads it again). The
  failure is logged with the shop's id and the failure's kind only.
"""

from __future__ import annotations

import logging

from shop_app.adapters.shopify_admin import AdminClient, RetryPolicy
from shop_app.adapters.shopify_admin_billing import BillingState, read_billing_state
from shop_app.errors import AdminApiError, AdminApiUnavailable, describe

log = logging.getLogger(__name__)

#: What a plan read may fail with and still leave the rest of the setup to do.
READ_FAILURES = (AdminApiError, AdminApiUnavailable)
#: A read that can be done again later waits briefly: two tries, half a second apart.
BRIEF = RetryPolicy(max_attempts=2, base_delay=0.5, max_delay=2.0)


def read_state(client: AdminClient, shop_id: int) -> BillingState | None:
    """The shop's subscriptions and development flag, or None (logged) when the Admin API failed."""
    policy, client.policy = client.policy, BRIEF
    try:
        return read_billing_state(client)
    except READ_FAILURES as error:
        log.warning("plan of shop %s not read: %s; the reconciler reads it later", shop_id, describe(error))
        return None
    finally:
        client.policy = policy
