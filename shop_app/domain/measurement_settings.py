"""The `measurement` section of a shop's settings document (issue 12): how results are measured.

- `holdout_percent`: null (the default: 10 during the 15-day validation cycle after install, 0
  after it; see shop_app/domain/holdout.py) or a whole number from 0 to 50 that always applies;
- `attribution_days` (default 5, 1–30): how long after a sent message an order by the same person
  counts as recovered by the journey.

Read by `read_measurement` with the settings reader, so every problem is a FieldError.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shop_app.domain.holdout import MAX_PERCENT, VALIDATION_DAYS, VALIDATION_PERCENT, holdout_percent

DEFAULT_ATTRIBUTION_DAYS = 5
MAX_ATTRIBUTION_DAYS = 30
HOLDOUT_RULE = (
    f"must be null (the default: {VALIDATION_PERCENT} during the first {VALIDATION_DAYS} days after install, "
    f"0 after) or a whole number from 0 to {MAX_PERCENT}"
)


@dataclass(frozen=True)
class MeasurementSettings:
    holdout_percent: int | None = None  # None: the default of shop_app.domain.holdout
    attribution_days: int = DEFAULT_ATTRIBUTION_DAYS

    def holdout_share(self, installed_at: datetime, abandoned_at: datetime) -> int:
        """The percent of new journeys held out for a checkout abandoned at `abandoned_at`."""
        return holdout_percent(self.holdout_percent, installed_at, abandoned_at)

    def to_document(self) -> dict[str, Any]:
        return {"holdout_percent": self.holdout_percent, "attribution_days": self.attribution_days}


def read_measurement(reader: Any, value: Any) -> MeasurementSettings:
    """The section from loose JSON; `reader` is shop_app.domain.settings' reader (FieldErrors)."""
    if value is None:
        return MeasurementSettings()
    doc = reader.obj(value, "measurement")
    reader.no_extra(doc, "measurement", {"holdout_percent", "attribution_days"})
    percent = doc.get("holdout_percent")
    if percent is not None and (
        isinstance(percent, bool) or not isinstance(percent, int) or not 0 <= percent <= MAX_PERCENT
    ):
        reader.fail("measurement.holdout_percent", HOLDOUT_RULE)
        percent = None
    days = reader.integer(doc, "attribution_days", "measurement", DEFAULT_ATTRIBUTION_DAYS, 1, MAX_ATTRIBUTION_DAYS)
    return MeasurementSettings(percent, days)
