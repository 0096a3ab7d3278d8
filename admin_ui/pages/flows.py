"""/flows, /flows/recovery: engagement flows and the recovery configuration (not built yet)."""

from __future__ import annotations

from admin_ui.pages import bp  # noqa: F401
