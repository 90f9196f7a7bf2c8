"""The sign page: Werkzeug views, templates and the callback to the e-service."""

from .app import WebApp, create_web_app

__all__ = ["WebApp", "create_web_app"]
