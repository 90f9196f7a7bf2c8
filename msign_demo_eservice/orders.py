"""What the demo's form asks to sign, checked as far as the demo checks it:
something to sign, PDFs for ``Pdf``, texts only as ``Hash`` (their SHA-1, of
the UTF-8 text, per line), a Moldovan MSISDN. The service checks the rest
(IDNPs, lengths, PDFs it cannot read) and answers ``InvalidParameter``.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

from werkzeug.datastructures import FileStorage

from .client import ContentToSign
from .errors import BadInput
from .store import Record

__all__ = ["CONTENT_TYPES", "LANGUAGES", "SignOrder"]

#: The sign page's languages, the demo's default first.
LANGUAGES = ("en", "ro", "ru")
CONTENT_TYPES = ("Pdf", "Hash")
_MSISDN = re.compile(r"(\+?373|0)\d{8}")


class SignOrder:
    """What the form asks to sign, checked as far as the demo checks it (the
    service checks the rest: IDNPs, lengths, PDFs it cannot read)."""

    def __init__(self) -> None:
        self.content_type = "Pdf"
        self.contents: list[ContentToSign] = []
        self.items: list[Record] = []
        self.short_description = ""
        self.description: str | None = None
        self.expected_signer: str | None = None
        self.signature_reason: str | None = None
        self.msisdn: str | None = None
        self.lang = "en"

    @classmethod
    def from_form(cls, form: Any, files: list[FileStorage]) -> SignOrder:
        """:raises BadInput: nothing to sign, a file that is not a PDF, a bad MSISDN."""
        order = cls()
        order.content_type = form.get("content_type", "Pdf")
        if order.content_type not in CONTENT_TYPES:
            raise BadInput("Choose Pdf or Hash.", "content_type")
        order.lang = form.get("lang", "en") if form.get("lang") in LANGUAGES else "en"
        order.short_description = (form.get("short_description") or "").strip() or "Documents of the demo e-service"
        order.description = (form.get("description") or "").strip() or None
        order.expected_signer = (form.get("expected_signer") or "").strip() or None
        order.signature_reason = (form.get("signature_reason") or "").strip() or None
        msisdn = re.sub(r"[\s-]", "", form.get("msisdn") or "")
        if msisdn and not _MSISDN.fullmatch(msisdn):
            raise BadInput(f"The phone number {msisdn!r} is not a Moldovan mobile number (373XXXXXXXX).", "msisdn")
        order.msisdn = msisdn or None
        texts = [line.strip() for line in (form.get("texts") or "").splitlines() if line.strip()]
        uploads = [(f.filename or "document", f.read()) for f in files if f and (f.filename or "").strip()]
        if order.content_type == "Pdf" and texts:
            raise BadInput("Texts are signed as hashes: choose Hash, or upload PDFs only.", "texts")
        if not texts and not uploads:
            raise BadInput("Upload a document or type a text to sign.", "documents")
        for name, data in uploads:
            order._add(Path(name).name, data, text=None)
        for text in texts:
            order._add(text if len(text) <= 60 else text[:59] + "…", text.encode(), text=text)
        return order

    def _add(self, name: str, data: bytes, *, text: str | None) -> None:
        correlation_id = f"c{len(self.items) + 1}"
        item: Record = {"correlation_id": correlation_id, "name": name[:256], "kind": "text" if text else "file"}
        if self.content_type == "Pdf":
            if not data.startswith(b"%PDF-"):
                raise BadInput(f"{name} is not a PDF document (choose Hash to sign a hash of it).", "documents")
            item["size"] = len(data)
            self.contents.append(ContentToSign(data, correlation_id, name[:256]))
        else:
            digest = hashlib.sha1(data).digest()
            item["sha1"] = digest.hex()
            item["size"] = len(data)
            self.contents.append(ContentToSign(digest, correlation_id, name[:256]))
        self.items.append(item)
