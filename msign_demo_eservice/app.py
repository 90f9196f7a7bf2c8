"""The demo e-service as a WSGI application (Werkzeug + Jinja2).

Routes, relative to where it is mounted (``/demo`` on the embedded default):

- ``GET /`` — the form (PDFs to upload or texts to hash, Hash/Pdf, optional
  ExpectedSigner IDNP, SignatureReason, MSISDN, the sign page's language)
  and the requests made so far.
- ``POST /sign`` — ``PostSignRequest``, then 303 to the sign page
  ``{service}/{RequestID}?ReturnUrl={public_base}/return&RelayState=…&lang=…``;
  a fault (``InvalidParameter``) shows the form again (400) with the reason.
- ``POST /return`` — the sign page's callback (``RequestID``, ``RelayState``):
  the RelayState must be the one stored for that request; then
  ``GetSignResponse`` runs as a background job and the browser goes to the
  request's page.
- ``GET /requests/<RequestID>`` — the request: its progress while a job runs,
  else its status and message, each signature (signer, time, downloads) and
  the verdicts of the verifications made.
- ``GET /requests/<RequestID>/progress`` — the job's progress as JSON (the
  progress page's script polls it).
- ``POST /requests/<RequestID>/refresh`` — ``GetSignResponse`` again.
- ``POST /requests/<RequestID>/verify`` — ``VerifySignatures`` of every
  signature (``copy=original``) or of altered copies (``copy=altered``), one
  call per content, with progress.
- ``GET /requests/<RequestID>/files/<n>.pdf|xml`` — the n-th signed PDF or XAdES.

Pages carry a Content-Security-Policy with a per-response nonce for their
style and script (forms may post to the demo and to the service's origin);
POSTs from another origin than the demo's own are refused, except the
callback, which the RelayState guards.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import secrets
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from jinja2 import Environment, PackageLoader, select_autoescape
from werkzeug.exceptions import HTTPException
from werkzeug.exceptions import NotFound as RouteNotFound
from werkzeug.routing import Map, Rule
from werkzeug.utils import redirect
from werkzeug.wrappers import Request, Response

from .client import ContentToVerify, MSignClient
from .errors import BadInput, NotFound, ServiceFault, ServiceUnreachable
from .jobs import Jobs, Progress, is_running
from .orders import LANGUAGES, SignOrder
from .signatures import altered_hash, altered_pdf, read_signer, signing_time
from .store import Record, Store, valid_request_id

__all__ = ["DEMO_PREFIX", "DemoEService", "create_demo", "mountable"]

log = logging.getLogger(__name__)

#: Where ``msign-soap serve`` mounts the demo on the embedded default.
DEMO_PREFIX = "/demo"
#: The demo's state directory inside the service's ``data_dir``.
STATE_DIRECTORY = "demo-eservice"
#: Largest upload (all files of one form); the service takes 64 MiB of contents by default.
MAX_UPLOAD = 64 * 1024 * 1024


class _Request(Request):
    max_content_length = MAX_UPLOAD + 1024 * 1024
    max_form_memory_size = 1024 * 1024


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class DemoEService:
    """The demo e-service of the signing service at ``service_url``.

    :param service_url: the service's base URL (``/MSign.svc`` and the sign
        page ``/{RequestID}`` are under it), as the demo reaches it.
    :param public_base: the absolute URL of the demo itself as the browser
        reaches it (its ``/return`` is the ReturnUrl).
    :param state_dir: where the demo keeps its requests and files.
    :param client: the SOAP client (default: zeep on ``service_url``).
    :param sign_page_url: the sign page's base URL as the browser reaches
        it, when not ``service_url``.
    """

    def __init__(
        self,
        service_url: str,
        *,
        public_base: str,
        state_dir: Path,
        client: MSignClient | None = None,
        sign_page_url: str | None = None,
    ) -> None:
        self.service_url = service_url.rstrip("/")
        self.sign_page_url = (sign_page_url or service_url).rstrip("/")
        self.public_base = public_base.rstrip("/")
        self.client = client or MSignClient(self.service_url)
        self.store = Store(Path(state_dir))
        self.jobs = Jobs(self.store)
        parts = urlsplit(self.sign_page_url)
        self._sign_page_origin = f"{parts.scheme}://{parts.netloc}"
        self.env = Environment(
            loader=PackageLoader("msign_demo_eservice", "templates"),
            autoescape=select_autoescape(default=True),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.url_map = Map(
            [
                Rule("/", endpoint="index", methods=["GET"]),
                Rule("/sign", endpoint="sign", methods=["POST"]),
                Rule("/return", endpoint="return", methods=["POST"]),
                Rule("/requests/<request_id>", endpoint="request", methods=["GET"]),
                Rule("/requests/<request_id>/progress", endpoint="progress", methods=["GET"]),
                Rule("/requests/<request_id>/refresh", endpoint="refresh", methods=["POST"]),
                Rule("/requests/<request_id>/verify", endpoint="verify", methods=["POST"]),
                Rule("/requests/<request_id>/files/<name>", endpoint="file", methods=["GET"]),
            ],
            strict_slashes=False,
        )

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        request = _Request(environ)
        try:
            endpoint, values = self.url_map.bind_to_environ(environ).match()
            if request.method == "POST" and endpoint != "return" and not _same_origin(request):
                response = self._message(request, 403, "Refused", "This form was posted from another site.")
            else:
                response = getattr(self, f"on_{endpoint}")(request, **values)
        except (RouteNotFound, NotFound):
            response = self._message(request, 404, "Not found", "There is no such page or request.")
        except HTTPException as e:
            response = self._message(request, e.code or 400, e.name, e.description or e.name)
        except Exception:
            log.exception("the demo e-service failed on %s %s", request.method, request.path)
            response = self._message(request, 500, "Error", "An unexpected error; see the e-service's log.")
        finally:
            request.close()  # the uploads' temporary files
        return response(environ, start_response)

    # -- the form ------------------------------------------------------------------

    def on_index(self, request: Request, *, errors: list[str] | None = None, status: int = 200) -> Response:
        form = request.form if request.method == "POST" else {}
        return self._page(
            request,
            "index.html",
            status,
            form=form,
            errors=errors or [],
            languages=LANGUAGES,
            recent=self.store.recent(),
        )

    def on_sign(self, request: Request) -> Response:
        try:
            order = SignOrder.from_form(request.form, request.files.getlist("documents"))
            request_id = self.client.post_sign_request(
                order.content_type,
                order.contents,
                order.short_description,
                description=order.description,
                expected_signer=order.expected_signer,
                signature_reason=order.signature_reason,
            )
        except BadInput as e:
            return self.on_index(request, errors=[str(e)], status=400)
        except ServiceFault as e:
            return self.on_index(
                request, errors=[f"The signing service refused the request ({e.code}): {e.reason}"], status=400
            )
        except ServiceUnreachable as e:
            return self.on_index(request, errors=[str(e)], status=502)
        if not valid_request_id(request_id):
            return self.on_index(
                request, errors=[f"The service answered an unusable RequestID {request_id!r}"], status=502
            )
        record: Record = {
            "request_id": request_id,
            "relay_state": secrets.token_urlsafe(24),
            "created_at": _now(),
            "content_type": order.content_type,
            "short_description": order.short_description,
            "expected_signer": order.expected_signer,
            "lang": order.lang,
            "msisdn": order.msisdn,
            "items": order.items,
            "status": "Pending",
            "message": None,
            "returned_at": None,
            "results": [],
            "verifications": {},
            "job": None,
        }
        self.store.create(record)
        log.info("demo: request %s posted with %d contents", request_id, len(order.items))
        return redirect(self.sign_url(record), code=303)

    def sign_url(self, record: Record) -> str:
        """The sign page for the request, with the demo's ReturnUrl and RelayState."""
        params = {
            "ReturnUrl": self.public_base + "/return",
            "RelayState": record["relay_state"],
            "lang": record["lang"],
        }
        if record.get("msisdn"):
            params["MSISDN"] = record["msisdn"]
        return f"{self.sign_page_url}/{record['request_id']}?{urlencode(params)}"

    # -- the callback --------------------------------------------------------------

    def on_return(self, request: Request) -> Response:
        fields = {key.lower(): value for key, value in request.form.items()}
        request_id = fields.get("requestid", "")
        if not request_id:
            return self._message(request, 400, "Not a callback", "The sign page's callback has no RequestID.")
        record = self.store.get(request_id)
        relay_state = fields.get("relaystate", "")
        if not secrets.compare_digest(relay_state.encode(), record["relay_state"].encode()):
            log.warning("demo: callback for %s with another RelayState", request_id)
            return self._message(
                request, 400, "Not our callback", "The RelayState does not match the one sent with this request."
            )

        def returned(r: Record) -> None:
            r["returned_at"] = _now()

        self.store.update(request_id, returned)
        self._fetch(record)
        return redirect(request.script_root + f"/requests/{request_id}", code=303)

    def on_refresh(self, request: Request, request_id: str) -> Response:
        self._fetch(self.store.get(request_id))
        return redirect(request.script_root + f"/requests/{request_id}", code=303)

    def _fetch(self, record: Record) -> None:
        request_id, content_type = record["request_id"], record["content_type"]
        correlation_ids = [item["correlation_id"] for item in record["items"]]

        def work(progress: Progress) -> None:
            response = self.client.get_sign_response(request_id, record["lang"])
            total = len(response.results)
            progress(0, total)
            results = []
            for n, result in enumerate(response.results, 1):
                entry: dict[str, Any] = {"correlation_id": result.correlation_id, "file": None}
                entry["item"] = (
                    correlation_ids.index(result.correlation_id) if result.correlation_id in correlation_ids else n - 1
                )
                if result.certificate:
                    signer = read_signer(result.certificate)
                    entry["certificate"] = base64.b64encode(result.certificate).decode()
                    entry["signer"] = {
                        "subject": signer.subject,
                        "name": signer.common_name,
                        "idnp": signer.serial_number,
                        "issuer": signer.issuer,
                    }
                if result.signature:
                    name = f"{n}.pdf" if content_type == "Pdf" else f"{n}.xml"
                    self.store.write_file(request_id, name, result.signature)
                    entry["file"] = name
                    entry["size"] = len(result.signature)
                    when = signing_time(result.signature, content_type)
                    entry["signed_at"] = when.isoformat(timespec="seconds") if when else None
                results.append(entry)
                progress(n, total)

            def change(r: Record) -> None:
                r.update(status=response.status, message=response.message, results=results, fetched_at=_now())

            self.store.update(request_id, change)

        self.jobs.start(request_id, "fetch", "Fetching the signatures from the signing service", work)

    # -- the request's page ----------------------------------------------------------

    def on_request(self, request: Request, request_id: str) -> Response:
        record = self.store.get(request_id)
        job = _job_view(record)
        if job.get("state") == "running":
            return self._page(request, "progress.html", record=record, job=job)
        items = [dict(item, result=None) for item in record["items"]]
        extra = []
        for result in record["results"]:
            index = result.get("item", -1)
            if 0 <= index < len(items) and items[index]["result"] is None:
                items[index]["result"] = result
            else:
                extra.append(result)
        return self._page(
            request,
            "request.html",
            record=record,
            items=items,
            extra=extra,
            job=job,
            sign_url=self.sign_url(record) if record["status"] == "Pending" else None,
        )

    def on_progress(self, request: Request, request_id: str) -> Response:
        job = _job_view(self.store.get(request_id))
        body = json.dumps({"state": job.get("state", "none"), "done": job.get("done", 0), "total": job.get("total", 0)})
        response = Response(body, content_type="application/json")
        response.headers["Cache-Control"] = "no-store"
        return response

    # -- verification -------------------------------------------------------------------

    def on_verify(self, request: Request, request_id: str) -> Response:
        record = self.store.get(request_id)
        copy = request.form.get("copy", "original")
        if copy not in ("original", "altered"):
            raise BadInput("copy must be original or altered", "copy")
        results = [r for r in record["results"] if r.get("file")]
        if record["status"] == "Success" and results:
            self._verify(record, results, altered=copy == "altered")
        return redirect(request.script_root + f"/requests/{request_id}", code=303)

    def _verify(self, record: Record, results: list[Record], *, altered: bool) -> None:
        request_id, content_type = record["request_id"], record["content_type"]
        items = record["items"]
        copy = "altered" if altered else "original"

        def work(progress: Progress) -> None:
            verdicts = []
            total = len(results)
            progress(0, total)
            for n, result in enumerate(results, 1):
                signature = self.store.read_file(request_id, result["file"])
                item = items[result["item"]] if 0 <= result.get("item", -1) < len(items) else {}
                content = None
                if content_type == "Hash":
                    content = bytes.fromhex(item.get("sha1") or "")
                    if altered:
                        content = altered_hash(content)
                elif altered:
                    signature = altered_pdf(signature, int(item.get("size") or 0) or len(signature) // 2)
                correlation_id = result.get("correlation_id") or f"r{n}"
                answer = self.client.verify_signatures(
                    content_type, [ContentToVerify(signature, correlation_id, content)], record["lang"]
                )
                if len(answer) != 1:
                    raise ServiceUnreachable(f"VerifySignatures answered {len(answer)} results for one content")
                verdict = answer[0]
                verdicts.append(
                    {
                        "item": result.get("item"),
                        "valid": verdict.signatures_valid,
                        "message": verdict.message,
                        "signers": [
                            {
                                "subject": c.subject,
                                "valid": c.signature_valid,
                                "signed_at": c.signed_at.isoformat(timespec="seconds") if c.signed_at else None,
                            }
                            for c in verdict.certificates
                        ],
                    }
                )
                progress(n, total)

            def change(r: Record) -> None:
                r["verifications"][copy] = {"at": _now(), "results": verdicts}

            self.store.update(request_id, change)

        title = "Verifying altered copies of the signatures" if altered else "Verifying the signatures"
        self.jobs.start(request_id, "verify", title, work)

    # -- downloads -------------------------------------------------------------------------

    def on_file(self, request: Request, request_id: str, name: str) -> Response:
        record = self.store.get(request_id)
        result = next((r for r in record["results"] if r.get("file") == name), None)
        if result is None:
            raise NotFound(f"no file {name}")
        data = self.store.read_file(request_id, name)
        item = record["items"][result["item"]] if 0 <= result.get("item", -1) < len(record["items"]) else {}
        stem = re.sub(r"[^A-Za-z0-9._-]+", "_", (item.get("name") or name).rsplit(".", 1)[0])[:80] or "signed"
        if name.endswith(".pdf"):
            mimetype, filename = "application/pdf", f"{stem}-signed.pdf"
        else:
            mimetype, filename = "application/xml", f"{stem}-xades.xml"
        response = Response(data, mimetype=mimetype)
        response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Cache-Control"] = "no-store"
        return response

    # -- rendering ---------------------------------------------------------------------------

    def _message(self, request: Request, status: int, title: str, text: str) -> Response:
        return self._page(request, "message.html", status, title=title, text=text)

    def _page(self, request: Request, template: str, status: int = 200, **context: Any) -> Response:
        nonce = secrets.token_urlsafe(18)
        body = self.env.get_template(template).render(nonce=nonce, root=request.script_root, **context)
        response = Response(body, status=status, content_type="text/html; charset=utf-8")
        response.headers["Content-Security-Policy"] = (
            f"default-src 'none'; style-src 'nonce-{nonce}'; script-src 'nonce-{nonce}'; connect-src 'self'; "
            f"form-action 'self' {self._sign_page_origin}; frame-ancestors 'none'; base-uri 'none'"
        )
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Cache-Control"] = "no-store"
        return response


def _job_view(record: Record) -> Record:
    """The record's job as the pages show it: a stale one (its process gone) failed."""
    job: Record = dict(record.get("job") or {})
    if job.get("state") == "running" and not is_running(record):
        job.update(state="failed", error="it was interrupted (the e-service stopped?); start it again")
    return job


def _same_origin(request: Request) -> bool:
    """Whether a POST comes from the demo's own pages: what the browser says
    (``Sec-Fetch-Site``), else the ``Origin`` (``null`` from a page with
    ``no-referrer``; absent from clients that are no browser)."""
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None:
        return site in ("same-origin", "none")
    origin = request.headers.get("Origin")
    return origin is None or origin.rstrip("/") == request.host_url.rstrip("/")


def create_demo(service_url: str, *, public_base: str, state_dir: Path, **options: Any) -> DemoEService:
    """The demo e-service of the service at ``service_url``, reached by
    browsers at ``public_base``, keeping its state in ``state_dir``;
    ``options`` as :class:`DemoEService` (``client``, ``sign_page_url``)."""
    return DemoEService(service_url, public_base=public_base, state_dir=state_dir, **options)


def mountable(service_base_url: str, data_dir: Path) -> DemoEService:
    """The demo e-service to mount at :data:`DEMO_PREFIX` (``/demo``) of the
    service whose base URL (as browsers and the demo itself reach it) is
    ``service_base_url``, its state in ``data_dir/demo-eservice``.

    Mount it as the MSSP simulator is mounted: for a request whose
    ``PATH_INFO`` is ``/demo`` or starts with ``/demo/``, call it with
    ``SCRIPT_NAME`` extended by ``/demo`` and that prefix cut off
    ``PATH_INFO`` (``/`` when nothing is left)::

        demo = importlib.import_module("msign_demo_eservice").mountable(public_url, config.data_dir)
        ...
        if path == "/demo" or path.startswith("/demo/"):
            mounted = dict(environ, SCRIPT_NAME=environ.get("SCRIPT_NAME", "") + "/demo",
                           PATH_INFO=path[len("/demo"):] or "/")
            return demo(mounted, start_response)

    Its URL is ``service_base_url + "/demo/"``. It calls the service over
    HTTP (zeep, the WSDL at ``service_base_url + "/MSign.svc?singleWsdl"``,
    fetched on first use), so the server must serve more than one request
    at a time; and its callback comes from the sign page, so the service's
    demo consumer must accept its ReturnUrl (``service_base_url + "/demo/return"``).
    """
    base = service_base_url.rstrip("/")
    return create_demo(base, public_base=base + DEMO_PREFIX, state_dir=Path(data_dir) / STATE_DIRECTORY)
