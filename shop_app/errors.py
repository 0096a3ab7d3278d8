"""Every named exception of the app, in one flat module."""


class ReclaimError(Exception):
    """Base of the app's own errors."""


class ConfigurationError(ReclaimError):
    """The environment does not describe a runnable app; raised at start."""


class UnknownShop(ReclaimError):
    """A shop domain that is not installed here."""


class InvalidShopDomain(ReclaimError):
    """A shop domain that is not a valid *.myshopify.com host."""


class PayloadError(ReclaimError):
    """A webhook body that cannot be turned into domain values."""


class DiscountUnavailable(ReclaimError):
    """The discount a step promises cannot be provided right now."""
