"""Shopify OAuth: the grants of POST /admin/oauth/access_token and the offline token they return."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import requests

from shop_app.adapters.http_errors import retry_after_seconds
from shop_app.adapters.shopify_http import DEFAULT_TIMEOUT, Timeout, json_or_none, post, require_aware, shop_base_url
from shop_app.config import Settings
from shop_app.errors import AdminApiError, AdminApiUnavailable, TokenExchangeRejected

TOKEN_EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"
ID_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:id_token"
OFFLINE_TOKEN_TYPE = "urn:shopify:params:oauth:token-type:offline-access-token"


@dataclass(frozen=True)
class OfflineToken:
    access_token: str
    scope: str
    expires_at: datetime | None  # None: a non-expiring token
    refresh_token: str | None
    refresh_token_expires_at: datetime | None

    @classmethod
    def from_response(cls, payload: Mapping[str, Any], now: datetime) -> OfflineToken:
        def after(key: str) -> datetime | None:
            seconds = payload.get(key)
            return None if seconds is None else now + timedelta(seconds=int(seconds))

        if not payload.get("access_token"):
            raise AdminApiError("token response without access_token")
        return cls(
            access_token=payload["access_token"],
            scope=payload.get("scope", ""),
            expires_at=after("expires_in"),
            refresh_token=payload.get("refresh_token"),
            refresh_token_expires_at=after("refresh_token_expires_in"),
        )


class OAuthClient:
    """The three grants of POST /admin/oauth/access_token (shopify.dev: authentication-authorization/access-tokens).

    One attempt each, never retried here: a refresh token rotates on use, so
    repeating a refresh whose answer was lost would burn it; the job retries.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        timeout: Timeout = DEFAULT_TIMEOUT,
        session: requests.Session | None = None,
    ):
        self.settings = settings
        self.timeout = timeout
        self._session = session

    def exchange_session_token(self, domain: str, id_token: str, *, now: datetime) -> OfflineToken:
        """Token exchange for an expiring offline token (managed install)."""
        return self._grant(
            domain,
            {
                "grant_type": TOKEN_EXCHANGE_GRANT,
                "subject_token": id_token,
                "subject_token_type": ID_TOKEN_TYPE,
                "requested_token_type": OFFLINE_TOKEN_TYPE,
                "expiring": "1",
            },
            now,
        )

    def exchange_code(self, domain: str, code: str, *, now: datetime) -> OfflineToken:
        """Authorization-code grant; asks for an expiring token (required of public apps)."""
        return self._grant(domain, {"code": code, "expiring": "1"}, now)

    def refresh(self, domain: str, refresh_token: str, *, now: datetime) -> OfflineToken:
        """A new access token and a new refresh token; the old refresh token is spent."""
        return self._grant(domain, {"grant_type": "refresh_token", "refresh_token": refresh_token}, now)

    def _grant(self, domain: str, fields: dict[str, str], now: datetime) -> OfflineToken:
        require_aware(now)
        url = shop_base_url(self.settings, domain) + "/admin/oauth/access_token"
        body = {"client_id": self.settings.shopify_api_key, "client_secret": self.settings.shopify_api_secret, **fields}
        try:
            response = post(self._session, url, json=body, headers={"Accept": "application/json"}, timeout=self.timeout)
        except requests.RequestException as exc:
            raise AdminApiUnavailable(f"token request to {domain} failed: {type(exc).__name__}", attempts=1) from exc
        payload = json_or_none(response)
        if response.status_code == 200 and isinstance(payload, dict):
            return OfflineToken.from_response(payload, now)
        if 400 <= response.status_code < 500 and response.status_code != 429:
            error = payload.get("error") if isinstance(payload, dict) else None
            detail = (payload or {}).get("error_description") if isinstance(payload, dict) else None
            raise TokenExchangeRejected(
                f"{domain} refused the grant ({response.status_code} {error or ''}): {detail or response.text[:200]}",
                status=response.status_code,
                error=error,
            )
        raise AdminApiUnavailable(
            f"token request to {domain} answered {response.status_code}",
            attempts=1,
            retry_after=retry_after_seconds(response.headers.get("Retry-After")),
        )
