"""/privacy: the suppression list and data-request exports (not built yet)."""

from __future__ import annotations

from admin_ui.pages import bp  # noqa: F401
