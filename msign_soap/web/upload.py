"""``/sign/upload``: a citizen signs a PDF of their own, as on MSign's portal.

The page takes one PDF and posts it as a sign request of the service's own
portal consumer (:meth:`~msign_soap.core.RequestService.portal_consumer`),
then sends the browser to the ordinary sign page with ReturnUrl
``/sign/upload/{RequestID}/done``. Back there it shows the outcome and, on
Success, offers the signed PDF at ``/sign/upload/{RequestID}/signed.pdf``.
As everywhere on the sign page, the 128-bit RequestID is what gives access;
the request's documents follow the usual retention.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.utils import redirect
from werkzeug.wrappers import Request, Response

from ..core import SignContentInput, SignRequestInput, SignStatus
from ..core.portal import PortalResult, portal_consumer, portal_result
from ..errors import InvalidParameter, RequestNotFound
from ..i18n import N_, normalize_language, translate
from ..verification.pades import is_pdf
from .security import secure_headers

if TYPE_CHECKING:
    from .app import WebApp

__all__ = ["UPLOAD_PATH", "UploadPage"]

log = logging.getLogger(__name__)

UPLOAD_PATH = "/sign/upload"

CHOOSE_PDF = N_("Choose a PDF document to sign.")
NOT_A_PDF = N_("The file is not a PDF document that can be signed.")
TOO_LARGE = N_("The file is too large.")
#: What the request says it is about, on the sign page.
_DESCRIPTION = "Document uploaded on the signing portal"


class UploadPage:
    """The upload page over ``pages``' service and templates.

    :param max_bytes: the largest PDF (the service's ``max_content_bytes``).
    """

    def __init__(self, pages: WebApp, max_bytes: int) -> None:
        self.pages = pages
        self.requests = pages.sessions.requests
        self.max_bytes = max_bytes
        #: The portal consumer's registered ReturnUrl prefix (production's public URL).
        self.return_prefix = f"{self.requests.config.base_url}{UPLOAD_PATH}/"

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        request = Request(environ)
        request.max_content_length = self.max_bytes + 64 * 1024
        request.max_form_memory_size = 64 * 1024
        try:
            response = self.dispatch(request)
        finally:
            request.close()
        return response(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        lang = normalize_language(request.args.get("lang"))
        rest = request.path[len(UPLOAD_PATH) :].strip("/").split("/")
        if rest == [""]:
            if request.method == "POST":
                try:
                    return self.upload(request, normalize_language(request.form.get("lang") or lang))
                except RequestEntityTooLarge:  # the language is in the query too, for this
                    return self.form(request, lang, TOO_LARGE, status=413)
            return self.form(request, lang)
        if len(rest) == 2 and rest[1] in ("done", "signed.pdf"):
            try:
                finished = portal_result(self.requests, rest[0])
            except RequestNotFound:
                return self.pages.render(request, "upload.html", lang, status=404, error=None, result=None, reason=None)
            if rest[1] == "signed.pdf":
                return self.download(finished)
            reason = translate(finished.reason, lang) if finished.reason else None
            return self.pages.render(request, "upload.html", lang, error=None, result=finished, reason=reason)
        return self.pages.render(request, "upload.html", lang, status=404, error=None, result=None, reason=None)

    def form(self, request: Request, lang: str, error: str | None = None, *, status: int = 200) -> Response:
        message = None if error is None else translate(error, lang)
        return self.pages.render(request, "upload.html", lang, status=status, error=message, result=None, reason=None)

    def upload(self, request: Request, lang: str) -> Response:
        file = request.files.get("document")
        data = file.read(self.max_bytes + 1) if file is not None else b""
        if not data:
            return self.form(request, lang, CHOOSE_PDF, status=400)
        if len(data) > self.max_bytes:
            return self.form(request, lang, TOO_LARGE, status=413)
        if not is_pdf(data):
            return self.form(request, lang, NOT_A_PDF, status=400)
        name = (file.filename if file is not None else None) or "document.pdf"
        content = SignContentInput(data, name=name[-256:], multiple_signatures=True)
        try:
            prefix = self.return_prefix if self.requests.config.production else ""  # any, on the embedded default
            request_id = self.requests.post(
                portal_consumer(self.requests, prefix),
                SignRequestInput("Pdf", [content], _DESCRIPTION),
                address=request.remote_addr,
            )
        except InvalidParameter as e:
            log.info("portal upload refused: %s", e.reason)
            return self.form(request, lang, NOT_A_PDF, status=400)
        # where the browser is (in production: the public URL, the registered prefix), in its language
        base = self.return_prefix if self.requests.config.production else request.host_url + UPLOAD_PATH[1:] + "/"
        back = f"{base}{request_id}/done?{urlencode({'lang': lang})}"
        query = urlencode({"ReturnUrl": back, "RelayState": secrets.token_urlsafe(8), "lang": lang})
        return secure_headers(redirect(f"/{request_id}?{query}", code=303))

    def download(self, finished: PortalResult) -> Response:
        if finished.status is not SignStatus.SUCCESS or finished.signed is None:
            return secure_headers(Response("not signed", status=404, content_type="text/plain"))
        name = finished.name.removesuffix(".pdf")
        stem = "".join(c for c in name if c.isascii() and (c.isalnum() or c in "-_.")) or "document"
        response = Response(finished.signed, content_type="application/pdf")
        response.headers["Content-Disposition"] = f'attachment; filename="{stem[:80]}-signed.pdf"'
        return secure_headers(response)
