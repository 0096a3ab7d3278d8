"""Placeholder blueprint: filled in by the channel work of issue 4."""

from flask import Blueprint

bp = Blueprint("sendgrid_events", __name__)
