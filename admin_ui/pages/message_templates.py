"""/templates, /templates/<step>/<channel>/<language>: the template editor (not built yet)."""

from __future__ import annotations

from admin_ui.pages import bp  # noqa: F401
