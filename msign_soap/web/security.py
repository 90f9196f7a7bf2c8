"""Response headers of the sign page: a strict Content-Security-Policy with
a per-response nonce, and the usual hardening headers; :func:`with_hardening_headers`
gives every other response of the service (SOAP, WSDL, PKI, errors) the same
defaults."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

from werkzeug.wrappers import Response

__all__ = ["content_security_policy", "new_nonce", "origin", "secure_headers", "with_hardening_headers"]

#: What every response carries unless it sets its own.
_DEFAULT_HEADERS = (
    ("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Frame-Options", "DENY"),
)
#: HTTP Strict Transport Security of production: a year, subdomains included.
HSTS = "max-age=31536000; includeSubDomains"


def new_nonce() -> str:
    """A fresh nonce for one response's ``<style>`` and ``<script>``."""
    return secrets.token_urlsafe(18)


def origin(url: str) -> str:
    """The origin (``scheme://host[:port]``) of an absolute URL."""
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


def content_security_policy(
    nonce: str, *, form_action: str | None = None, script: bool = False, connect: str | None = None
) -> str:
    """The policy of a page: nothing but its own nonce'd style (and script).

    :param form_action: the only origin forms may post to (the result page's
        ReturnUrl); ``'self'`` without it.
    :param script: allow the nonce'd script (the callback's auto-submit, the
        local signer's script file).
    :param connect: the one other origin the script may fetch from, besides
        the service (the local signer's page: the signer on the user's machine).
    """
    directives = [
        "default-src 'none'",
        f"style-src 'nonce-{nonce}'",
        "img-src 'self'",
        "form-action " + (form_action or "'self'"),
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ]
    if script:
        directives.insert(2, f"script-src 'nonce-{nonce}'")
    if connect is not None:
        directives.insert(2, f"connect-src 'self' {connect}")
    return "; ".join(directives)


def secure_headers(response: Response, csp: str | None = None) -> Response:
    """Add the hardening headers (and ``csp``, else a policy that allows nothing)."""
    response.headers["Content-Security-Policy"] = csp or "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Cache-Control"] = "no-store"
    return response


def with_hardening_headers(
    app: Callable[..., Iterable[bytes]], *, hsts: bool = False
) -> Callable[..., Iterable[bytes]]:
    """``app`` with the hardening headers added to every response that does
    not set them itself, and ``Strict-Transport-Security`` on https responses
    when ``hsts`` (production)."""

    def wrapped(environ: dict, start_response: Callable[..., Any]) -> Iterable[bytes]:
        https = environ.get("wsgi.url_scheme") == "https"

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            present = {name.lower() for name, _ in headers}
            extra = [(name, value) for name, value in _DEFAULT_HEADERS if name.lower() not in present]
            if hsts and https and "strict-transport-security" not in present:
                extra.append(("Strict-Transport-Security", HSTS))
            return start_response(status, headers + extra, exc_info)

        return app(environ, start)

    return wrapped
