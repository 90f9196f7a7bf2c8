"""The sign page's mobile signature views (contract §3.3, "Mobile signature").

- ``POST /{RequestID}/sign/mobile`` — the form: ``msisdn`` (the 8 digits
  after the fixed ``+373``; ``0XXXXXXXX`` and ``+373XXXXXXXX`` are taken too)
  and, when the request has no ExpectedSigner.ID, ``idnp``. Starts the
  signing (:meth:`~msign_soap.instruments.api.MobileInstrument.start`) and
  redirects (303) to the progress page; a number without a mobile signature
  or an unreachable provider shows the form again.
- ``GET /{RequestID}/mobile`` — the progress page: "k of N", the
  verification code the phone shows too, Cancel. Each load advances the
  signing (:meth:`~msign_soap.instruments.api.MobileInstrument.poll`); once
  the request has ended it redirects to the result. Without JavaScript the
  page reloads itself every :data:`POLL_SECONDS` (a meta refresh inside
  ``<noscript>``); with it, a small script asks the same URL for JSON
  (``Accept: application/json``: ``progress``, ``heading``, ``code``,
  ``notice``, or ``location`` once finished) and updates the page in place,
  in a polite live region, so that nothing reloads under a screen reader
  (WCAG 2.2.1: axe-core refuses a timed meta refresh).
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from werkzeug.utils import redirect
from werkzeug.wrappers import Request, Response

from ..core import RequestSummary, SignSession, is_valid_idn, normalize_msisdn
from ..core.audit_events import Event
from ..errors import InvalidParameter, MSignError, MsspError, RequestClosed, SigningRefused
from ..i18n import normalize_language, pages, translate
from ..instruments.api import MobileInstrument
from .security import secure_headers

if TYPE_CHECKING:
    from .app import WebApp

__all__ = ["POLL_SECONDS", "local_number", "progress_page", "read_msisdn", "submit"]

log = logging.getLogger(__name__)

#: Seconds between two loads of the progress page.
POLL_SECONDS = 2


def local_number(msisdn: str | None) -> str:
    """The 8 digits after ``373`` of a stored MSISDN (empty without one)."""
    return msisdn[3:] if msisdn and msisdn.startswith("373") else ""


def read_msisdn(value: str) -> str:
    """The form's phone number as ``373XXXXXXXX``: 8 digits after the shown
    ``+373``, or any form :func:`~msign_soap.core.normalize_msisdn` takes.

    :raises InvalidParameter: not a Moldovan number.
    """
    number = value.replace(" ", "")
    if len(number) == 8 and number.isascii() and number.isdigit():
        number = "373" + number
    return normalize_msisdn(number)


def submit(
    app: WebApp,
    request: Request,
    summary: RequestSummary,
    session: SignSession,
    mobile: MobileInstrument,
    lang: str,
) -> Response:
    """Handle the mobile form (CSRF already checked)."""
    request_id = summary.request_id
    done = secure_headers(redirect(f"/{request_id}/sign?{urlencode({'lang': lang})}", code=303))
    if summary.status.finished:
        return done
    phone = request.form.get("msisdn", "").strip()
    typed = request.form.get("idnp", "").strip()

    def again(error: str) -> Response:
        return app.sign_page(request, summary, session, lang, mobile.name, idnp=typed, phone=phone, error=error)

    try:
        msisdn = read_msisdn(phone)
    except InvalidParameter:
        return again(pages.ENTER_MSISDN)
    # With ExpectedSigner.ID the signing flow checks the SIM's certificate
    # against it; the IDNP the user types is the provider's to check.
    idnp = None
    if summary.expected_signer_id is None:
        if not is_valid_idn(typed):
            return again(pages.INVALID_IDNP)
        idnp = typed
    app.audit(Event.INSTRUMENT_CHOSEN, request, request_id, instrument=mobile.name)
    try:
        mobile.start(request_id, msisdn, idnp)
    except MsspError as e:
        log.info("request %s: the mobile signature of %s did not start: %s", request_id, msisdn, e.detail)
        return again(e.message_id)
    except (SigningRefused, RequestClosed) as e:
        log.info("request %s: mobile signing ended: %s", request_id, e)
        return done
    except MSignError:
        log.exception("request %s: the mobile signature could not start", request_id)
        return again(pages.SIGNING_FAILED)
    return secure_headers(redirect(f"/{request_id}/mobile?{urlencode({'lang': lang})}", code=303))


def progress_page(
    app: WebApp,
    request: Request,
    summary: RequestSummary,
    session: SignSession,
    mobile: MobileInstrument,
) -> Response:
    """The progress page (one poll of the provider), or a redirect once there
    is nothing to wait for; as JSON for the page's own script."""
    request_id = summary.request_id
    lang = normalize_language(request.args.get("lang") or session.entry.lang)
    query = urlencode({"lang": lang})
    wants_json = request.accept_mimetypes.best == "application/json"

    def leave(location: str) -> Response:
        if wants_json:
            return _json({"location": location})
        return secure_headers(redirect(location, code=303))

    if summary.status.finished:
        return leave(f"/{request_id}/sign?{query}")
    try:
        progress = mobile.poll(request_id)
    except MSignError:
        log.exception("request %s: polling the mobile signature failed", request_id)
        progress = None
    if progress is None:
        return leave(f"/{request_id}/sign/{mobile.name}?{query}")
    if progress.finished:
        return leave(f"/{request_id}/sign?{query}")
    heading = translate(pages.DOCUMENT_K_OF_N, lang).format(k=progress.current, n=progress.total)
    notice = translate(progress.notice, lang) if progress.notice else None
    if wants_json:
        return _json(
            {
                "progress": f"{progress.current}/{progress.total}",
                "heading": heading,
                "code": progress.verification_code,
                "notice": notice,
            }
        )
    return app.render(
        request,
        "mobile_progress.html",
        lang,
        script=True,
        connect="'self'",
        summary=summary,
        csrf=session.csrf_token(),
        progress=progress,
        heading=heading,
        phone="+" + progress.msisdn,
        notice=notice,
        poll_seconds=POLL_SECONDS,
        poll_url=f"/{request_id}/mobile?{query}",
    )


def _json(data: dict[str, object]) -> Response:
    return secure_headers(Response(json.dumps(data), content_type="application/json"))
