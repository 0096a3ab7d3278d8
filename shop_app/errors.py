"""The app's one error vocabulary: every exception the project defines derives from ReclaimError.

The errors several packages share live here; a package's own errors sit beside their code and
derive from ReclaimError too (with ValueError as a mixin where callers catch that). Standard
library only, so the pure domain may import it. Messages never carry personal data.
"""

import traceback


class ReclaimError(Exception):
    """Base of the app's own errors."""


def describe(error: BaseException) -> str:
    """A failure told without the data it was about, for reasons, logs and job results.

    The app's own errors say what went wrong in words that carry no personal data. Any other
    exception is named by its class only (and, for a database error, the driver's class, e.g.
    `DataError (NumericValueOutOfRange)`): their messages quote values, SQL parameters,
    or a constraint's DETAIL line with the customer's email in it.
    """
    name = type(error).__name__
    if isinstance(error, ReclaimError):
        return f"{name}: {error}"[:500]
    cause = getattr(error, "orig", None)  # SQLAlchemy wraps the driver's exception here
    return f"{name} ({type(cause).__name__})" if isinstance(cause, BaseException) else name


def trace(error: BaseException) -> str:
    """Where `error` was raised (file, line, code) and `describe(error)`: a traceback for the
    log that leaves out every exception's message."""
    frames = "".join(traceback.format_tb(error.__traceback__))
    return f"Traceback (most recent call last):\n{frames}{describe(error)}"


class ConfigurationError(ReclaimError):
    """The environment does not describe a runnable app; raised at start."""


class UnknownShop(ReclaimError):
    """A shop domain that is not installed here."""


class InvalidShopDomain(ReclaimError):
    """A shop domain that is not a valid *.myshopify.com host."""


class DiscountUnavailable(ReclaimError):
    """The discount a step promises cannot be provided right now."""


class InvalidSessionToken(ReclaimError):
    """A Shopify session token (App Bridge ID token) that must not be trusted; `reason` says why."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(f"invalid session token: {reason}")


class AdminApiError(ReclaimError):
    """The Admin API refused a request: GraphQL `errors`, or an HTTP status that retrying cannot fix."""

    def __init__(self, message: str, *, status: int | None = None, errors: list | None = None):
        super().__init__(message)
        self.status = status
        self.errors = errors or []


class AdminApiUnauthorized(AdminApiError):
    """HTTP 401: the access token is expired, revoked, or the app was uninstalled."""


class AdminApiUnavailable(ReclaimError):
    """The Admin API did not answer usefully within the allowed attempts (throttling,
    429, 5xx, timeouts); `retry_after` (seconds) says when trying again makes sense."""

    def __init__(self, message: str, *, attempts: int = 0, retry_after: float | None = None):
        super().__init__(message)
        self.attempts = attempts
        self.retry_after = retry_after


class AdminUserError(ReclaimError):
    """A mutation answered with `userErrors`; `user_errors` keeps them as sent."""

    def __init__(self, message: str, user_errors: list[dict]):
        super().__init__(message)
        self.user_errors = user_errors


class DiscountCodeTaken(AdminUserError):
    """The shop already has a discount with this code (userError code TAKEN)."""

    def __init__(self, code: str, user_errors: list[dict]):
        super().__init__(f"discount code {code!r} is taken", user_errors)
        self.code = code


class TokenExchangeRejected(ReclaimError):
    """Shopify's OAuth endpoint refused a grant (bad id_token, code or refresh token, or app credentials)."""

    def __init__(self, message: str, *, status: int, error: str | None = None):
        super().__init__(message)
        self.status = status
        self.error = error


class ShopNotConnected(ReclaimError):
    """No usable Admin API token for the shop: it must be (re)authorized."""
