"""One settings object, read from the environment and validated at start.

Defaults are named constants here so a newcomer finds every knob in one file.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from shop_app.errors import ConfigurationError

DEFAULT_APP_URL = "http://localhost:8080"
DEFAULT_API_VERSION = "2026-07"
DEFAULT_ADMIN_BASE_URL = "https://{shop}"
DEV_API_KEY = "reclaim-dev-api-key"
DEV_API_SECRET = "reclaim-dev-api-secret"
DEV_SECRET_KEY = "reclaim-dev-secret-key-not-for-production"
DEFAULT_EMAIL_FROM = "recovery@reclaim.localhost"
#: Who push services may contact about our pushes (the VAPID `sub` claim).
DEFAULT_VAPID_CONTACT = "mailto:push@reclaim.localhost"

#: Largest webhook body we accept. Shopify checkout payloads with hundreds of
#: line items stay well below this; anything bigger is refused with 413.
MAX_WEBHOOK_BYTES = 2 * 1024 * 1024

#: A row left in `sending` longer than this is marked `unknown` (never resent).
SENDING_LEASE_SECONDS = 300
#: Dispatcher and reconciler cadence of the one scheduler (the lease holder) across all workers.
TICK_INTERVAL_SECONDS = 1
RECONCILE_INTERVAL_SECONDS = 30
#: How many due messages one claim statement takes (a dispatcher pass loops over such batches).
DISPATCH_BATCH = 500
#: A recorded webhook delivery whose ingest job vanished is re-enqueued after this.
INGEST_GRACE_SECONDS = 30
#: Processed webhook deliveries, provider events and finished messages' content are kept this long.
DEFAULT_RETENTION_DAYS = 90
MAX_RETENTION_DAYS = 3650
#: A row queued this recently is not checked for a lost job: its enqueue may still be on its way.
QUEUED_GRACE_SECONDS = 30
#: Transient provider failures are retried this many times before `failed`.
MAX_SEND_ATTEMPTS = 3
#: A job run that breaks (any exception) or is lost (killed, Redis flushed) counts as an
#: attempt; after this many its row is given up (`rejected` / `failed`) and never picked again.
MAX_JOB_ATTEMPTS = 5
#: Wait before the next run after the 1st, 2nd, 3rd… broken one (the last repeats).
JOB_BACKOFF_SECONDS = (60, 300, 1800, 7200)


def database_url_for(raw: str) -> str:
    """Accept the usual postgres:// spellings and use the psycopg 3 driver we ship."""
    for prefix in ("postgres://", "postgresql://"):
        if raw.startswith(prefix):
            return "postgresql+psycopg://" + raw[len(prefix) :]
    return raw


def _whole_days(text: str | None, default: int) -> int:
    """A count of days from the environment; one that is not a whole number is -1, which
    `validate` refuses naming the variable (never a traceback)."""
    if text is None or not text.strip():
        return default
    try:
        return int(text.strip())
    except ValueError:
        return -1


def _instance_dir() -> Path:
    return Path(os.environ.get("RECLAIM_INSTANCE_DIR", Path.cwd() / "instance"))


#: `test` is what automated tests and CI set: as `development`, the development defaults
#: (embedded SQLite and Redis, public development secrets, the development sign-in) apply.
#: Only `production` turns them all off.
ENVIRONMENTS = ("development", "test", "production")


def environment_of(env: Mapping[str, str]) -> str:
    """`RECLAIM_ENV` (default `development`); a typo such as `prod` is refused, never read as development."""
    name = env.get("RECLAIM_ENV") or "development"
    if name not in ENVIRONMENTS:
        raise ConfigurationError(f"RECLAIM_ENV must be one of {', '.join(ENVIRONMENTS)}, not {name[:40]!r}")
    return name


@dataclass(frozen=True)
class Settings:
    database_url: str
    redis_url: str | None  # None: start an embedded Redis (dev, demo, tests only)
    shopify_api_key: str
    shopify_api_secret: str
    shopify_api_secret_previous: str | None
    shopify_app_url: str
    shopify_api_version: str
    shopify_admin_base_url: str
    secret_key: str
    outbox_file: str | None
    smtp_url: str | None
    sendgrid_api_key: str | None
    email_from: str  # the envelope sender; the shop's name is the display name
    sendgrid_webhook_public_key: str | None  # base64 DER ECDSA key SendGrid signs its event webhook with
    vapid_contact: str
    # Where the Twilio SDK sends requests; None means Twilio itself. Tests and the demo
    # point these at the development Twilio server (shop_app/devtools/twilio_api.py).
    twilio_api_base_url: str | None
    twilio_content_base_url: str | None
    instance_dir: Path
    dev_mode: bool
    extra: Mapping[str, str] = field(default_factory=dict)
    #: Finished rows older than this many days are purged (jobs/retention.py); 0 keeps everything.
    retention_days: int = DEFAULT_RETENTION_DAYS
    #: The bearer token GET /metrics asks for (shop_app/metrics.py); unset, /metrics answers 404.
    metrics_token: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        instance = Path(env.get("RECLAIM_INSTANCE_DIR") or _instance_dir())
        dev = environment_of(env) != "production"  # production: no embedded or development fallback
        embedded_database = f"sqlite:///{instance / 'reclaim.db'}" if dev else ""
        settings = cls(
            database_url=database_url_for(env.get("DATABASE_URL") or embedded_database),
            redis_url=env.get("REDIS_URL") or None,
            shopify_api_key=env.get("SHOPIFY_API_KEY") or (DEV_API_KEY if dev else ""),
            shopify_api_secret=env.get("SHOPIFY_API_SECRET") or (DEV_API_SECRET if dev else ""),
            shopify_api_secret_previous=env.get("SHOPIFY_API_SECRET_PREVIOUS") or None,
            shopify_app_url=(env.get("SHOPIFY_APP_URL") or (DEFAULT_APP_URL if dev else "")).rstrip("/"),
            shopify_api_version=env.get("SHOPIFY_API_VERSION") or DEFAULT_API_VERSION,
            shopify_admin_base_url=env.get("SHOPIFY_ADMIN_BASE_URL") or DEFAULT_ADMIN_BASE_URL,
            secret_key=env.get("RECLAIM_SECRET_KEY") or (DEV_SECRET_KEY if dev else ""),
            outbox_file=env.get("RECLAIM_OUTBOX_FILE") or None,
            smtp_url=env.get("SMTP_URL") or None,
            sendgrid_api_key=env.get("SENDGRID_API_KEY") or None,
            email_from=env.get("RECLAIM_EMAIL_FROM") or DEFAULT_EMAIL_FROM,
            sendgrid_webhook_public_key=env.get("SENDGRID_WEBHOOK_PUBLIC_KEY") or None,
            vapid_contact=env.get("RECLAIM_VAPID_CONTACT") or DEFAULT_VAPID_CONTACT,
            twilio_api_base_url=env.get("TWILIO_API_BASE_URL") or None,
            twilio_content_base_url=env.get("TWILIO_CONTENT_BASE_URL") or None,
            instance_dir=instance,
            dev_mode=dev,
            retention_days=_whole_days(env.get("RECLAIM_RETENTION_DAYS"), DEFAULT_RETENTION_DAYS),
            metrics_token=env.get("RECLAIM_METRICS_TOKEN", "").strip() or None,  # a secret file's newline
        )
        settings.validate()
        return settings

    def with_overrides(self, **changes: Any) -> Settings:  # any field of Settings
        updated = replace(self, **changes)
        updated.validate()
        return updated

    def validate(self) -> None:
        """Fail at start with every problem listed, not at the first request."""
        problems = self._secret_problems() + self._url_problems() + self._retention_problems()
        if problems:
            raise ConfigurationError("invalid configuration:\n  - " + "\n  - ".join(problems))

    def _secret_problems(self) -> list[str]:
        problems = []
        if not self.shopify_api_key:
            problems.append("SHOPIFY_API_KEY is required in production")
        if not self.shopify_api_secret:
            problems.append("SHOPIFY_API_SECRET is required in production")
        if not self.secret_key:
            problems.append("RECLAIM_SECRET_KEY is required in production")
        elif len(self.secret_key) < 16:
            problems.append("RECLAIM_SECRET_KEY must be at least 16 characters")
        if self.metrics_token is not None and len(self.metrics_token) < 16:
            problems.append("RECLAIM_METRICS_TOKEN must be at least 16 characters (or unset: no /metrics)")
        return problems

    def _retention_problems(self) -> list[str]:
        if not 0 <= self.retention_days <= MAX_RETENTION_DAYS:
            return [f"RECLAIM_RETENTION_DAYS must be a whole number of days from 0 (keep) to {MAX_RETENTION_DAYS}"]
        return []

    def _url_problems(self) -> list[str]:
        problems = []
        if not self.database_url:
            problems.append("DATABASE_URL is required in production (the embedded SQLite is for development)")
        elif not self.database_url.startswith(("sqlite", "postgresql")):
            problems.append("DATABASE_URL must be a sqlite:// or postgresql:// URL")
        if self.redis_url is None and not self.dev_mode:
            problems.append("REDIS_URL is required in production (the embedded Redis is for development)")
        if self.redis_url and not self.redis_url.startswith(("redis://", "rediss://", "unix://")):
            problems.append("REDIS_URL must be a redis://, rediss:// or unix:// URL")
        if self.smtp_url and not self.smtp_url.startswith(("smtp://", "smtps://")):
            problems.append("SMTP_URL must be an smtp:// or smtps:// URL")
        if "@" not in self.email_from:
            problems.append("RECLAIM_EMAIL_FROM must be an email address")
        if not self.vapid_contact.startswith(("mailto:", "https:")):
            problems.append("RECLAIM_VAPID_CONTACT must be a mailto: or https: URL")
        if "{shop}" not in self.shopify_admin_base_url:
            problems.append("SHOPIFY_ADMIN_BASE_URL must contain {shop}")
        if not self.shopify_app_url:
            problems.append("SHOPIFY_APP_URL is required in production (the app's public https:// URL)")
        elif not self.dev_mode and not self.shopify_app_url.startswith("https://"):
            problems.append("SHOPIFY_APP_URL must be an https:// URL in production")
        elif not self.shopify_app_url.startswith(("http://", "https://")):
            problems.append("SHOPIFY_APP_URL must be an http(s) URL")
        return problems

    @property
    def webhook_secrets(self) -> tuple[str, ...]:
        """The current secret, then the previous one while a rotation settles."""
        if self.shopify_api_secret_previous:
            return (self.shopify_api_secret, self.shopify_api_secret_previous)
        return (self.shopify_api_secret,)
