"""App-proxy routes (placeholder: the push script and subscription endpoint land here)."""

from flask import Blueprint

bp = Blueprint("storefront", __name__, url_prefix="/proxy")
