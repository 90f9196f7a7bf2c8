"""The sign page's local-signer views (``moldsign``, ``nationalid``; contract §3.3).

The only instrument that needs JavaScript: the browser, not the service,
talks to the signer on the user's machine (the MoldSign app, or
``msign-soap local-signer``) at the configured ``local_signer_url``.

- ``GET /{RequestID}/sign/moldsign`` (or ``nationalid``; also
  ``/{RequestID}/sign`` after ``Instrument=moldsign``) — the page: what is
  signed, a certificate list the script fills from the signer's
  ``GET /certificates``, a Sign button, "Document k of N" while signing,
  Cancel. Its Content-Security-Policy lets the nonce'd script file run and
  fetch from the service and from ``local_signer_url`` only. When nothing
  answers there, the page says so and how to start a signer.
- ``GET /static/local-signer.js`` — the script (``templates/local-signer.js``):
  for each content not yet accepted, ``POST /sign/data`` to the signer (a
  ``Hash``: XAdES-T over the digest; a ``Pdf``: PAdES-T over the file
  downloaded from ``/{RequestID}/content/{n}``), ``GET`` its ``Location``,
  and post the ``base64File`` here; at the end it goes to
  ``/{RequestID}/sign``, which shows the result and posts the callback.
- ``POST /{RequestID}/local-signer/{instrument}/{n}`` — one content's result,
  ``{"base64File": …}`` (``application/json``, the CSRF token in the
  ``X-CSRF-Token`` header), checked by
  :meth:`~msign_soap.instruments.api.LocalSignerInstrument.accept`. JSON
  answers: ``200 {"accepted": k, "total": N, "finished": bool, "next": url}``;
  ``422 {"error": message, "finished": false}`` when the result is refused
  (the request stays Pending: the user may try again); ``409 {"error":
  message, "finished": true, "next": url}`` when the request has ended (the
  signer was refused: Failure, or it was already finished); 400, 403, 413
  for a malformed body, a wrong CSRF token, a body over ``max_body_bytes``.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import logging
from importlib import resources
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from werkzeug.wrappers import Request, Response

from ..config import Config
from ..core import RequestSummary, SignSession, content_uri
from ..core.audit_events import Event
from ..errors import MSignError, RequestClosed, RequestNotFound, ResultRejected, SigningRefused
from ..i18n import pages, translate
from ..instruments.api import LocalSignerInstrument
from .security import secure_headers

if TYPE_CHECKING:
    from .app import WebApp

__all__ = ["SCRIPT_PATH", "accept", "allow_upload", "page", "script"]

log = logging.getLogger(__name__)

#: Where the page's script is served.
SCRIPT_PATH = "/static/local-signer.js"
_UPLOAD_SEGMENT = "/local-signer/"


def allow_upload(request: Request, config: Config) -> None:
    """Let a result upload (a signed PDF in base64) be as large as a SOAP
    request may be; the sign page's other requests stay small."""
    if request.method == "POST" and _UPLOAD_SEGMENT in request.path:
        request.max_content_length = config.max_body_bytes


def page(
    app: WebApp,
    request: Request,
    summary: RequestSummary,
    session: SignSession,
    instrument: LocalSignerInstrument,
    lang: str,
) -> Response:
    """The local signer's page for ``instrument``."""
    request_id = summary.request_id
    progress = instrument.progress(request_id)
    hashes = instrument.hashes(request_id)
    contents = [
        {
            "info": content,
            "accepted": content.position in progress.accepted,
            "hash": base64.b64encode(hashes[content.position]).decode("ascii") if hashes else "",
            "algorithm": "SHA-1" if hashes and len(hashes[content.position]) == 20 else "SHA-256",
            "reference": content_uri(content.correlation_id, content.position),
        }
        for content in summary.contents
    ]
    signer_url = app.local_signer_url or ""
    return app.render(
        request,
        "local_signer.html",
        lang,
        script=True,
        connect=signer_url,
        summary=summary,
        csrf=session.csrf_token(),
        instrument=instrument.name,
        title=translate(pages.INSTRUMENT_NAMES[instrument.name], lang),
        signer_url=signer_url,
        contents=contents,
        accepted=len(progress.accepted),
        script_path=SCRIPT_PATH,
        result_url=f"/{request_id}/local-signer/{instrument.name}/",
        done_url=f"/{request_id}/sign?{urlencode({'lang': lang})}",
        choice_url=f"/{request_id}/sign?{urlencode({'lang': lang, 'choose': 1})}",
    )


@functools.cache
def _script() -> bytes:
    return (resources.files("msign_soap") / "_templates" / "local-signer.js").read_bytes()


def script(request: Request) -> Response:
    """The page's script file."""
    response = Response(_script(), content_type="text/javascript; charset=utf-8")
    secure_headers(response)
    response.headers["Cache-Control"] = "no-cache"
    return response


def accept(
    app: WebApp,
    request: Request,
    summary: RequestSummary,
    session: SignSession,
    instrument: LocalSignerInstrument,
    position: int,
) -> Response:
    """Take one content's result from the page's script (see the module docstring)."""
    request_id = summary.request_id
    lang = session.entry.lang
    next_url = f"/{request_id}/sign?{urlencode({'lang': lang})}"
    if not session.check_csrf(request.headers.get("X-CSRF-Token")):
        return _json(403, {"error": translate(pages.BAD_CSRF, lang), "finished": False})
    if summary.status.finished:
        reason = translate(summary.reason or pages.REQUEST_FINISHED, lang)
        return _json(409, {"error": reason, "finished": True, "next": next_url})
    if request.mimetype != "application/json":
        return _json(415, {"error": "application/json expected", "finished": False})
    try:
        body = json.loads(request.get_data(cache=False))
        document = base64.b64decode(body["base64File"], validate=True)
    except (ValueError, TypeError, KeyError, binascii.Error):
        return _json(400, {"error": "a JSON object with base64File expected", "finished": False})
    if not document:
        return _json(400, {"error": "base64File is empty", "finished": False})
    if position == 0:
        app.audit(Event.INSTRUMENT_CHOSEN, request, request_id, instrument=instrument.name)
    try:
        progress = instrument.accept(request_id, position, document)
    except ResultRejected as e:
        log.info("request %s: %s result for content %d refused: %s", request_id, instrument.name, position, e.detail)
        return _json(422, {"error": translate(e.message_id, lang), "finished": False})
    except RequestNotFound:
        return _json(404, {"error": translate(pages.NOT_FOUND, lang), "finished": False})
    except SigningRefused as e:
        log.info("request %s: %s signing ended: %s", request_id, instrument.name, e)
        return _json(409, {"error": translate(e.message_id, lang), "finished": True, "next": next_url})
    except RequestClosed as e:
        log.info("request %s: %s signing ended: %s", request_id, instrument.name, e)
        return _json(409, {"error": translate(pages.REQUEST_FINISHED, lang), "finished": True, "next": next_url})
    except MSignError:
        log.exception(
            "request %s: the %s result for content %d could not be taken", request_id, instrument.name, position
        )
        return _json(500, {"error": translate(pages.SIGNING_FAILED, lang), "finished": False})
    answer: dict[str, Any] = {
        "accepted": len(progress.accepted),
        "total": progress.total,
        "finished": progress.finished,
        "next": next_url,
    }
    return _json(200, answer)


def _json(status: int, body: dict[str, Any]) -> Response:
    return secure_headers(Response(json.dumps(body), status=status, content_type="application/json"))
