"""/settings/windows: delivery windows (not built yet)."""

from __future__ import annotations

from admin_ui.pages import bp  # noqa: F401
