"""/settings/channels: email, Twilio, WhatsApp templates, push, a test to me (not built yet)."""

from __future__ import annotations

from admin_ui.pages import bp  # noqa: F401
