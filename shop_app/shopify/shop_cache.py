"""Installed shops by domain, kept briefly in each web process for the webhook endpoint (issue 13).

Every Shopify webhook names its shop by domain; looking it up is a database round trip per
request. This cache answers it from memory for TTL_SECONDS.

What is kept: only shops found *installed* (their id). A shop not found, or uninstalled, is never
kept, so a shop installed a moment ago is accepted at once and an unknown domain always asks the
database (a 200-and-drop, as before).

Staleness bound: a shop uninstalled (or erased by shop/redact) elsewhere is still accepted by a
process that kept it for at most TTL_SECONDS after that process last looked it up. Such a delivery
is recorded as any other and nothing is lost; the ingest job runs it against the shop's row as it is
then. The process that receives the shop's app/uninstalled or shop/redact itself stops keeping the
shop at once (`hold`) and for HOLD_SECONDS afterwards asks the database on every webhook, so it
drops the shop's webhooks as soon as the ingest job has marked it uninstalled. A cached id whose row
was deleted (shop/redact) fails the delivery's foreign key; the caller then forgets it and asks again.

One cache per app (webhooks.init_app), so per gunicorn worker process; the clock is injectable
for tests. Stdlib only.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

#: How long a looked-up installed shop is answered from memory: the staleness bound above.
TTL_SECONDS = 10.0
#: After this process saw app/uninstalled or shop/redact for a shop: no caching it for this long.
HOLD_SECONDS = 600.0
#: More shops than this in one process: the oldest half is dropped (it is a cache, not a registry).
MAX_SHOPS = 10_000


class ShopCache:
    def __init__(self, ttl: float = TTL_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.clock = clock
        self._shops: dict[str, tuple[int, float]] = {}  # domain -> (shop id, kept until)
        self._held: dict[str, float] = {}  # domain -> not cached until
        self._lock = threading.Lock()

    def get(self, domain: str) -> int | None:
        """The installed shop's id while it is fresh, else None (ask the database)."""
        entry = self._shops.get(domain)
        if entry is None:
            return None
        if self.clock() >= entry[1]:
            with self._lock:
                if self._shops.get(domain) == entry:
                    del self._shops[domain]
            return None
        return entry[0]

    def keep(self, domain: str, shop_id: int) -> None:
        """Remember an installed shop just read from the database (unless held)."""
        now = self.clock()
        with self._lock:
            held_until = self._held.get(domain)
            if held_until is not None:
                if now < held_until:
                    return
                del self._held[domain]
            if len(self._shops) >= MAX_SHOPS:
                for old in sorted(self._shops, key=lambda d: self._shops[d][1])[: MAX_SHOPS // 2]:
                    del self._shops[old]
            self._shops[domain] = (shop_id, now + self.ttl)

    def forget(self, domain: str) -> None:
        """Drop the shop: the next webhook asks the database."""
        with self._lock:
            self._shops.pop(domain, None)

    def hold(self, domain: str, seconds: float = HOLD_SECONDS) -> None:
        """Drop the shop and keep it out for `seconds`: its uninstall or erasure is under way."""
        with self._lock:
            self._shops.pop(domain, None)
            if len(self._held) >= MAX_SHOPS:
                self._held.clear()
            self._held[domain] = self.clock() + seconds
