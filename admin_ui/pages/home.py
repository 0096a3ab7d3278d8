"""`/` Home: the setup guide and the 15-day validation cycle."""

from __future__ import annotations

from flask.typing import ResponseReturnValue

from admin_ui.layout import render_page
from admin_ui.pages import bp


@bp.get("/")
def home() -> ResponseReturnValue:
    return render_page("home.html", title="Home")
