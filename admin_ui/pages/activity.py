"""/activity, /activity/<journey id>: journeys and their timelines (not built yet)."""

from __future__ import annotations

from admin_ui.pages import bp  # noqa: F401
