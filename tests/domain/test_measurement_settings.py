"""The settings document's `measurement` section (issue 12): the holdout share and the
attribution window, with their defaults, validated field by field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shop_app.domain.settings import ShopSettings
from shop_app.domain.validation import ValidationError

INSTALLED = datetime(2026, 11, 1, tzinfo=UTC)


def parse(doc: object) -> ShopSettings:
    return ShopSettings.from_document(doc, shop_timezone="UTC")


def refused_fields(doc: object) -> set[str]:
    with pytest.raises(ValidationError) as caught:
        parse(doc)
    return {e.field for e in caught.value.errors}


def test_defaults_are_the_validation_cycle_holdout_and_5_days() -> None:
    measurement = ShopSettings.defaults("UTC").measurement
    assert (measurement.holdout_percent, measurement.attribution_days) == (None, 5)
    assert measurement.holdout_share(INSTALLED, INSTALLED + timedelta(days=3)) == 10
    assert measurement.holdout_share(INSTALLED, INSTALLED + timedelta(days=16)) == 0
    assert ShopSettings.defaults("UTC").to_document()["measurement"] == {"holdout_percent": None, "attribution_days": 5}


@pytest.mark.parametrize("percent", [0, 1, 50])
def test_an_explicit_share_round_trips_and_always_applies(percent: int) -> None:
    settings = parse({"measurement": {"holdout_percent": percent, "attribution_days": 30}})
    assert settings.measurement.holdout_share(INSTALLED, INSTALLED) == percent
    assert settings.measurement.holdout_share(INSTALLED, INSTALLED + timedelta(days=100)) == percent
    assert parse(settings.to_document()) == settings


def test_null_means_the_default() -> None:
    assert parse({"measurement": {"holdout_percent": None}}).measurement.holdout_percent is None
    assert parse({"measurement": None}) == ShopSettings.defaults("UTC")


@pytest.mark.parametrize(
    ("measurement", "field"),
    [
        ({"holdout_percent": 51}, "measurement.holdout_percent"),
        ({"holdout_percent": -1}, "measurement.holdout_percent"),
        ({"holdout_percent": 10.5}, "measurement.holdout_percent"),
        ({"holdout_percent": "10"}, "measurement.holdout_percent"),
        ({"holdout_percent": True}, "measurement.holdout_percent"),
        ({"attribution_days": 0}, "measurement.attribution_days"),
        ({"attribution_days": 31}, "measurement.attribution_days"),
        ({"attribution_days": None}, "measurement.attribution_days"),
        ({"attribution_days": "5"}, "measurement.attribution_days"),
        ({"colour": "red"}, "measurement.colour"),
    ],
)
def test_a_bad_value_is_refused_naming_its_field(measurement: dict, field: str) -> None:
    assert refused_fields({"measurement": measurement}) == {field}


def test_every_bad_field_is_listed_together() -> None:
    doc = {"measurement": {"holdout_percent": 80, "attribution_days": 0}, "tone": "shouty"}
    assert refused_fields(doc) == {"measurement.holdout_percent", "measurement.attribution_days", "tone"}
    assert refused_fields({"measurement": [10]}) == {"measurement"}
