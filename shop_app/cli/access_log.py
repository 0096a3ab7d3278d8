"""gunicorn's logs under `reclaim serve`: in the process's format (shop_app/log_format.py), and the
access log with the values of authenticating query parameters (`id_token`, `hmac`, `signature`, …)
masked in the request line, the query string, the referrer and every header (and the token of an
unsubscribe or tracked link: `/u/***`, `/c/***`), and the
`Authorization` and `Cookie` headers left out whole."""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

from gunicorn.glogging import Logger, SafeAtoms

from shop_app.log_format import MASK, format_of, formatter, mask_url

#: Request headers an access log never shows (atoms `{authorization}i`, `{cookie}i`).
HIDDEN_HEADERS = ("{authorization}i", "{cookie}i")


class MaskedAtoms(SafeAtoms):
    """gunicorn's atoms (`atoms_wrapper_class`), each masked when the line's format reads it: a
    line reads a handful of the dozens of atoms (one per request header, response header and
    environ entry), so masking them all up front cost more than the rest of the line."""

    def __getitem__(self, key: str) -> Any:
        if key.lower() in HIDDEN_HEADERS:
            return MASK if key.lower() in self else "-"
        value = super().__getitem__(key)
        return mask_url(value) if isinstance(value, str) else value


class AccessLogger(Logger):
    """gunicorn's Logger (`logger_class`), its handlers given this process's formatter."""

    atoms_wrapper_class = MaskedAtoms

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        fmt = formatter(format_of(os.environ))
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                handler.setFormatter(fmt)

    def access(self, resp: Any, req: Any, environ: dict, request_time: timedelta) -> None:
        if not self.access_log_enabled:
            return
        atoms = self.atoms_wrapper_class(self.atoms(resp, req, environ, request_time))
        fields = {
            "event": "access",
            "method": atoms["m"],
            "path": atoms["U"],
            "status": atoms["s"],
            "duration_ms": atoms["M"],
        }
        self.access_log.info(self.cfg.access_log_format, atoms, extra=fields)
