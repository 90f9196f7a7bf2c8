"""The public verification page (like MSign's "Verifică documentul").

- ``GET /verify`` — the form: a signed PDF, or a XAdES signature with the
  original document or its hash.
- ``POST /verify`` — the report: per signature the signer, the time of a
  valid timestamp, the level, the verdict and why, in ro/ru/en; with
  ``download=1`` the same report as an HTML file to keep.

It verifies with the same code as VerifySignatures and ``msign-soap verify``
(:func:`~msign_soap.verification.batch.verify_batch`) and changes nothing:
no CSRF token is needed, nothing is stored.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING
from urllib.parse import quote

from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Request, Response

from ..constants import client_address
from ..core.audit_events import Event
from ..i18n import N_, normalize_language, translate
from ..i18n.verdicts import VERDICT_MESSAGES
from ..verification import Verdict
from ..verification.batch import VerificationItem, VerificationOutcome, verify_batch
from ..verification.pades import is_pdf
from ..verification.trust import Trust
from .security import secure_headers

if TYPE_CHECKING:
    from .app import WebApp

__all__ = ["VERIFY_PATH", "VerifyPage"]

log = logging.getLogger(__name__)

VERIFY_PATH = "/verify"

NO_FILE = N_("Choose a file to verify.")
NEEDS_DOCUMENT = N_(
    "An XAdES signature is verified against the signed document: give the original document or its hash."
)
BAD_HASH = N_("The hash must be hexadecimal: 40 digits for SHA-1, 64 for SHA-256.")
TOO_LARGE = N_("The file is too large.")
NOT_AVAILABLE = N_("Verification is not available on this server: no trusted authorities are configured.")


class VerifyPage:
    """The verification page over ``trust``, rendered by ``pages``' templates.

    :param max_bytes: the largest upload (a signed document and its original).
    """

    def __init__(self, pages: WebApp, trust: Trust | None, max_bytes: int) -> None:
        self.pages = pages
        self.trust = trust
        self.max_bytes = max_bytes

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        request = Request(environ)
        request.max_content_length = self.max_bytes
        request.max_form_memory_size = 64 * 1024  # the text fields (lang, hash); files are spooled
        try:
            response = self.dispatch(request)
        finally:
            request.close()  # the uploads' temporary files
        self.pages.metrics.page(VERIFY_PATH, response.status_code)
        return response(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        lang = normalize_language(request.args.get("lang"))
        if request.method not in ("GET", "HEAD", "POST"):
            return secure_headers(Response("method not allowed", status=405, headers={"Allow": "GET, HEAD, POST"}))
        if self.trust is None:
            return self.form(request, lang, NOT_AVAILABLE, status=503)
        if request.method != "POST":
            return self.form(request, lang)
        try:
            lang = normalize_language(request.form.get("lang") or lang)
            return self.verify(request, lang)
        except RequestEntityTooLarge:
            return self.form(request, lang, TOO_LARGE, status=413)

    def form(self, request: Request, lang: str, error: str | None = None, *, status: int = 200) -> Response:
        message = None if error is None else translate(error, lang)
        return self.pages.render(
            request, "verify.html", lang, status=status, error=message, outcome=None, file_name="", verdict_messages={}
        )

    def verify(self, request: Request, lang: str) -> Response:
        assert self.trust is not None
        upload = request.files.get("signature")
        signed = upload.read() if upload is not None else b""
        if not signed:
            return self.form(request, lang, NO_FILE, status=400)
        file_name = (upload.filename if upload is not None else None) or "document"
        if is_pdf(signed):
            outcome = self._verify("Pdf", [None], signed, lang)
        else:
            hashes = self._hashes(request)
            if hashes is None:
                return self.form(request, lang, BAD_HASH, status=400)
            if not hashes:
                return self.form(request, lang, NEEDS_DOCUMENT, status=400)
            outcome = self._verify("Hash", hashes, signed, lang)
        self.pages.metrics.verification("Pdf" if is_pdf(signed) else "Hash", outcome.valid)
        self.pages.trail.record(
            Event.VERIFICATION_CALLED,
            address=client_address(request.environ),
            detail={"content_type": "Pdf" if is_pdf(signed) else "Hash", "contents": 1, "valid": int(outcome.valid)},
        )
        response = self.pages.render(
            request,
            "verify.html",
            lang,
            error=None,
            outcome=outcome,
            file_name=file_name,
            verdict_messages={verdict: translate(text, lang) for verdict, text in VERDICT_MESSAGES.items()},
        )
        if request.form.get("download"):
            # an ASCII name for every client, the real one (RFC 6266 / 5987) for those that read it
            safe = "".join(c for c in file_name if (c.isascii() and c.isalnum()) or c in "-_.")[:80] or "document"
            full = quote(f"verification-{file_name[:80]}.html", safe="")
            response.headers["Content-Disposition"] = (
                f"attachment; filename=\"verification-{safe}.html\"; filename*=UTF-8''{full}"
            )
        return response

    def _hashes(self, request: Request) -> list[bytes | None] | None:
        """The candidate hashes of the signed document (``[]``: none given,
        ``None``: a malformed one): the given one, or the original's SHA-1
        and SHA-256 (a XAdES may use either)."""
        original = request.files.get("document")
        data = original.read() if original is not None else b""
        if data:
            return [hashlib.sha1(data).digest(), hashlib.sha256(data).digest()]
        text = "".join(request.form.get("hash", "").split()).lower()
        if not text:
            return []
        try:
            value = bytes.fromhex(text)
        except ValueError:
            return None
        return [value] if len(value) in (20, 32) else None

    def _verify(self, kind: str, hashes: list[bytes | None], signed: bytes, lang: str) -> VerificationOutcome:
        assert self.trust is not None
        outcome: VerificationOutcome | None = None
        for content in hashes:
            [outcome] = verify_batch(kind, [VerificationItem(content, None, signed)], self.trust, lang, max_contents=1)
            if outcome.report.verdict is not Verdict.HASH_MISMATCH:
                break  # the hash of the right algorithm
        assert outcome is not None
        return outcome
