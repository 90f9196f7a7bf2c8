"""HTTP endpoints of the demo PKI: TSA, OCSP responder, CRLs, CA certificates.

================================  ======  ============================================================
path                              method  answer
================================  ======  ============================================================
``/tsa``                          POST    RFC 3161 §3.4: ``application/timestamp-query`` in,
                                          ``application/timestamp-reply`` out
``/pki/ocsp/issuing``             POST    RFC 6960 A.1: ``application/ocsp-request`` in,
                                          ``application/ocsp-response`` out
``/pki/ocsp/issuing/<base64>``    GET     the same, the request in the path (base64, URL-encoded)
``/pki/crls/issuing/latest.crl``  GET     the issuing CA's CRL (DER, ``application/pkix-crl``)
``/pki/crls/root/latest.crl``     GET     the root CA's CRL
``/pki/certs/issuing/ca.crt``     GET     the issuing CA certificate (DER, ``application/pkix-cert``)
``/pki/certs/root/ca.crt``        GET     the root CA certificate
================================  ======  ============================================================

A request the endpoint cannot take (wrong method, wrong content type, a body
that is no TimeStampReq, larger than 64 KiB) gets a 4xx status with one line
of plain text; an OCSP request that cannot be read gets the
``malformedRequest`` OCSP response RFC 6960 asks for.
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Request, Response

from ..errors import TimestampError
from ..signing.timestamp import LocalTsa
from .demo import CA_CERT_PATHS, CRL_PATHS, OCSP_PATH, DemoPki
from .revocation import OcspResponder, build_crl

__all__ = ["TSA_PATH", "create_pki_app"]

log = logging.getLogger(__name__)

TSA_PATH = "/tsa"
_MAX_BODY = 64 * 1024

WsgiApp = Callable[[dict, Callable], Iterable[bytes]]


class _LimitedRequest(Request):
    max_content_length = _MAX_BODY


def _text(status: int, text: str, **headers: str) -> Response:
    return Response(text + "\n", status=status, content_type="text/plain; charset=utf-8", headers=headers)


def create_pki_app(pki: DemoPki, tsa: LocalTsa | None = None, clock: Callable[[], datetime] | None = None) -> WsgiApp:
    """The WSGI application serving the paths in the module docstring.

    :param pki: the demo PKI.
    :param tsa: the TSA to serve at ``/tsa``; by default one signing with
        ``pki.tsa``.
    :param clock: the time of CRLs and OCSP responses (naive means UTC);
        the current time by default.
    """
    tsa = tsa or LocalTsa(pki.tsa.certificate, pki.tsa.private_key, pki.tsa.chain, clock=clock)
    responder = OcspResponder(pki.issuing_ca.certificate, pki.ocsp_responder, pki.issued_serials, pki.revocations)
    certificates = {
        CA_CERT_PATHS["issuing"]: pki.issuing_ca.certificate_der,
        CA_CERT_PATHS["root"]: pki.root.certificate_der,
    }
    crl_issuers = {CRL_PATHS["issuing"]: (pki.issuing_ca, pki.revocations), CRL_PATHS["root"]: (pki.root, ())}

    def now() -> datetime:
        value = clock() if clock else datetime.now(UTC)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value

    def timestamp(request: Request) -> Response:
        if request.method != "POST":
            return _text(405, "POST a TimeStampReq here", Allow="POST")
        if request.mimetype != "application/timestamp-query":
            return _text(400, "expected Content-Type: application/timestamp-query")
        try:
            reply = tsa.respond(request.get_data(cache=False))
        except TimestampError as e:
            return _text(400, e.reason)
        return Response(reply, content_type="application/timestamp-reply")

    def ocsp(request: Request, encoded: str | None) -> Response:
        if encoded is not None:
            if request.method not in ("GET", "HEAD"):
                return _text(405, "GET an OCSP request encoded in the path, or POST it", Allow="GET, HEAD")
            try:
                encoded = encoded.replace("-", "+").replace("_", "/")  # tolerate base64url too
                body = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
            except (binascii.Error, ValueError):
                body = b""
        elif request.method != "POST":
            return _text(405, "POST an OCSP request here, or GET it encoded in the path", Allow="POST")
        elif request.mimetype != "application/ocsp-request":
            return _text(400, "expected Content-Type: application/ocsp-request")
        else:
            body = request.get_data(cache=False)
        return Response(responder.respond(body, now()), content_type="application/ocsp-response")

    def route(request: Request) -> Response:
        path = request.path
        if path == TSA_PATH:
            return timestamp(request)
        if path == OCSP_PATH or path.startswith(OCSP_PATH + "/"):
            return ocsp(request, path[len(OCSP_PATH) + 1 :] if path != OCSP_PATH else None)
        if path in certificates or path in crl_issuers:
            if request.method not in ("GET", "HEAD"):
                return _text(405, "GET only", Allow="GET, HEAD")
            if path in certificates:
                return Response(certificates[path], content_type="application/pkix-cert")
            issuer, revoked = crl_issuers[path]
            crl = build_crl(issuer, revoked, now())
            return Response(crl, content_type="application/pkix-crl")
        return _text(404, "not found")

    def app(environ: dict, start_response: Callable) -> Iterable[bytes]:
        request = _LimitedRequest(environ)
        try:
            response = route(request)
        except HTTPException as e:  # the body limit
            response = _text(e.code or 400, e.name)
        except Exception:
            log.exception("PKI endpoint %s failed", request.path)
            response = _text(500, "internal error")
        return response(environ, start_response)

    return app
