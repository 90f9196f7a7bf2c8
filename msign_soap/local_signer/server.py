"""The local signer's HTTP interface: the protocol the MSign sign page speaks
to the MoldSign desktop app on the user's machine (contract §3.3), so that
the page works with the real app or with ``msign-soap local-signer``.

- ``GET /certificates?private_only=true`` → ``{"certificateModel": [...]}``
  (:meth:`~msign_soap.local_signer.keys.SignerKey.model`).
- ``POST /sign/data`` (JSON, :mod:`.signer`) → ``201 Created``, ``Location:
  http://127.0.0.1:<port>/sign/data/PKCS11/<uuid>/<pdf|XAdES>``.
- ``GET`` that Location → ``{"base64File": "<the signed PDF or XAdES>"}``;
  results are kept in memory for :data:`RESULT_SECONDS`, at most
  :data:`MAX_RESULTS` of them.

Errors are JSON ``{"error": "..."}``: 400 (a bad body, naming the member),
403 (a foreign origin), 404, 405, 413 (a body over ``max_body_bytes``),
415 (not JSON), 421 (a ``Host`` other than loopback: DNS rebinding), 502
(the time-stamping authority failed).

Who may call: the daemon listens on 127.0.0.1 only. A request carrying an
``Origin`` must come from one of ``allowed_origins`` (the sign page's), and
gets CORS headers for it (``Location`` exposed); other origins get 403 and
no CORS headers. Preflights (``OPTIONS``) are answered for the allowed
origins with ``Access-Control-Allow-Private-Network: true`` (Chrome's
Private Network Access). A request without ``Origin`` (a command-line
client on the same machine) is served; a browser always sends ``Origin``
on the cross-origin requests a web page can make, and ``POST`` must be
``application/json``, which no form can send.

Left out: HTTPS (the real app is at ``https://localhost.cts.md:18443`` with
a publicly trusted certificate; this one is plain HTTP on loopback, which
browsers treat as a secure context), PKCS #11 tokens.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from ..errors import InvalidDocument, InvalidParameter, MSignError, TimestampError
from ..signing.timestamp import Timestamper
from .keys import SignerKey
from .signer import parse_sign_data, sign

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_PORT",
    "LOOPBACK",
    "MAX_RESULTS",
    "RESULT_SECONDS",
    "LocalSignerApp",
    "normalize_origin",
]

log = logging.getLogger(__name__)

#: The only address the daemon listens on.
LOOPBACK = "127.0.0.1"
#: The MoldSign app's port; the daemon's default too.
DEFAULT_PORT = 18443
#: Largest request body: a 64 MiB PDF in base64, and the JSON around it.
DEFAULT_MAX_BODY_BYTES = 96 * 1024 * 1024
#: Seconds a signed result waits to be fetched.
RESULT_SECONDS = 600
#: Most results kept at once (the oldest goes first).
MAX_RESULTS = 8
_LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")
_PREFLIGHT_SECONDS = "600"


def normalize_origin(value: str) -> str:
    """An origin as browsers send it: ``scheme://host[:port]``, lower case, no slash.

    :raises InvalidParameter: anything else (a path, a query, another scheme).
    """
    origin = value.strip().rstrip("/").lower()
    scheme, _, rest = origin.partition("://")
    if scheme not in ("http", "https") or not rest or any(c in rest for c in "/?#@ "):
        raise InvalidParameter("--allow-origin", f"must be an origin such as https://msign.gov.md, not {value!r}")
    return origin


class _Results:
    """Signed results by ID, kept for a while (thread-safe)."""

    def __init__(self, limit: int = MAX_RESULTS, seconds: float = RESULT_SECONDS) -> None:
        self._items: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._lock = threading.Lock()
        self.limit = limit
        self.seconds = seconds

    def add(self, data: bytes) -> str:
        key = uuid.uuid4().hex
        with self._lock:
            self._items[key] = (time.monotonic() + self.seconds, data)
            while len(self._items) > self.limit:
                self._items.popitem(last=False)
        return key

    def get(self, key: str) -> bytes | None:
        now = time.monotonic()
        with self._lock:
            for stale in [k for k, (until, _) in self._items.items() if until <= now]:
                del self._items[stale]
            item = self._items.get(key)
        return item[1] if item else None


class LocalSignerApp:
    """The local signer as a WSGI application.

    :param key: the key it signs with (unlocked).
    :param timestamper: the RFC 3161 client for the signature time-stamps.
    :param allowed_origins: the origins (``scheme://host[:port]``) whose pages may call it.
    :param max_body_bytes: largest request body.
    :param clock: the signing time (aware UTC).
    """

    def __init__(
        self,
        key: SignerKey,
        timestamper: Timestamper,
        allowed_origins: Sequence[str],
        *,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.key = key
        self.timestamper = timestamper
        self.allowed_origins = frozenset(normalize_origin(o) for o in allowed_origins)
        self.max_body_bytes = max_body_bytes
        self.clock = clock
        self.results = _Results()
        # One signature at a time, as the real app's PIN window makes it.
        self._signing = threading.Lock()
        self.url_map = Map(
            [
                Rule("/certificates", endpoint="certificates", methods=["GET"]),
                Rule("/sign/data", endpoint="sign", methods=["POST"]),
                Rule("/sign/data/PKCS11/<result_id>/<kind>", endpoint="result", methods=["GET"]),
            ]
        )

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        request = Request(environ)
        request.max_content_length = self.max_body_bytes
        return self.dispatch(request)(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        origin = request.headers.get("Origin")
        if request.host.rsplit(":", 1)[0].lower() not in _LOOPBACK_HOSTS:
            # A page whose name resolves to 127.0.0.1 (DNS rebinding) is not the sign page.
            return _error(421, "this signer answers only to 127.0.0.1 and localhost")
        if origin is not None and origin.lower() not in self.allowed_origins:
            log.warning("refused a request from origin %s", origin)
            return _error(403, "this origin may not use the signer")
        if request.method == "OPTIONS":
            return self._cors(self._preflight(request), origin)
        try:
            endpoint, values = self.url_map.bind_to_environ(request.environ).match()
            response: Response = getattr(self, f"on_{endpoint}")(request, **values)
        except NotFound:
            response = _error(404, "no such resource")
        except MethodNotAllowed:
            response = _error(405, "method not allowed")
        except HTTPException as e:  # 413 from the body limit, …
            response = _error(e.code or 400, e.name)
        except Exception:
            log.exception("the local signer failed on %s %s", request.method, request.path)
            response = _error(500, "internal error")
        return self._cors(response, origin)

    # -- endpoints ---------------------------------------------------------

    def on_certificates(self, request: Request) -> Response:
        # private_only=true is what the page asks for; every key held has its private key
        return _json(200, {"certificateModel": [self.key.model()]})

    def on_sign(self, request: Request) -> Response:
        if request.mimetype != "application/json":
            return _error(415, "the body must be application/json")
        try:
            body = json.loads(request.get_data(cache=False))
        except (ValueError, UnicodeDecodeError):
            return _error(400, "the body is not JSON")
        try:
            sign_data = parse_sign_data(body, self.key)
            with self._signing:
                signed = sign(sign_data, self.key, self.timestamper, self.clock())
        except InvalidParameter as e:
            return _error(400, e.reason)
        except InvalidDocument as e:
            return _error(400, f"data: {e.reason}")
        except TimestampError as e:
            log.warning("no time-stamp: %s", e.reason)
            return _error(502, f"no time-stamp: {e.reason}")
        except MSignError as e:
            log.warning("signing failed: %s", e.reason)
            return _error(500, "signing failed")
        result_id = self.results.add(signed)
        location = f"{request.host_url.rstrip('/')}/sign/data/PKCS11/{result_id}/{sign_data.kind}"
        log.info("signed %s (%d bytes), result %s", sign_data.sign_format, len(sign_data.data), result_id)
        response = _json(201, {})
        response.headers["Location"] = location
        return response

    def on_result(self, request: Request, result_id: str, kind: str) -> Response:
        data = self.results.get(result_id)
        if data is None or kind not in ("pdf", "XAdES"):
            return _error(404, "no such result (results are kept for a while only)")
        return _json(200, {"base64File": base64.b64encode(data).decode("ascii")})

    # -- CORS --------------------------------------------------------------

    def _preflight(self, request: Request) -> Response:
        if request.headers.get("Origin") is None:
            return _error(400, "a preflight needs an Origin")
        response = Response(status=204)
        response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
        response.headers["Access-Control-Allow-Headers"] = "Content-Type"
        response.headers["Access-Control-Max-Age"] = _PREFLIGHT_SECONDS
        response.headers["Access-Control-Allow-Private-Network"] = "true"
        return response

    def _cors(self, response: Response, origin: str | None) -> Response:
        response.headers["Vary"] = "Origin"
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Content-Type-Options"] = "nosniff"
        if origin is not None and origin.lower() in self.allowed_origins:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Expose-Headers"] = "Location"
        return response


def _json(status: int, body: dict[str, Any]) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json")


def _error(status: int, message: str) -> Response:
    response = _json(status, {"error": message})
    response.headers["Vary"] = "Origin"
    response.headers["Cache-Control"] = "no-store"
    return response
