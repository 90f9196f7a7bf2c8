"""The sign page as a WSGI application (MSign web forms integration, contract §3).

Routes:

- ``GET|POST /{RequestID}`` — the entry from the e-service: ``ReturnUrl``
  (required), ``Instrument``, ``MSISDN``, ``RelayState``, ``lang``, matched
  case-insensitively, from the query or the form. They are stored with the
  request, then the browser is redirected (303) to the page.
- ``GET /{RequestID}/sign`` — the page: what is signed, the instruments, and
  Cancel; once the request is finished, its result with the callback form that
  posts ``RequestID`` and ``RelayState`` to the ReturnUrl.
- ``GET /{RequestID}/sign/{instrument}`` — the page with the form of a
  cloud-key instrument (``securesign``, ``tax``): IDNP and PIN. ``Instrument=``
  at the entry opens it on ``/{RequestID}/sign`` directly.
- ``POST /{RequestID}/sign/{instrument}`` — signs the whole batch with that
  instrument (CSRF token required), then redirects (303) to the page, which
  shows the result; a wrong PIN or a locked key shows the form again.
- ``GET|POST /{RequestID}/sign/mobile``, ``GET /{RequestID}/mobile`` — the
  mobile signature's form and progress page (:mod:`.mobile`).
  ``Instrument=mobile`` opens the form directly only when the entry gave
  ``MSISDN`` and the request names ExpectedSigner.ID (contract §3.1).
- ``POST /{RequestID}/cancel`` — ends the request as Failure (CSRF token required).
- ``GET /{RequestID}/content/{n}`` — the n-th PDF, as a download.

- ``GET /{RequestID}/sign/moldsign`` (``nationalid``), ``POST
  /{RequestID}/local-signer/{instrument}/{n}``, ``GET /static/local-signer.js`` — the
  local signer's page, the results it posts, its script (:mod:`.local_signer`).

Everything but the callback's auto-submit and the local signer works
without JavaScript.
"""

from __future__ import annotations

import functools
import io
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from werkzeug.exceptions import HTTPException, NotFound, RequestEntityTooLarge
from werkzeug.routing import Map, Rule
from werkzeug.utils import redirect, send_file
from werkzeug.wrappers import Request, Response

from ..constants import client_address
from ..core import (
    INSTRUMENTS,
    EntryParameters,
    RequestService,
    RequestSummary,
    SigningService,
    SignSession,
    SignSessions,
    SignStatus,
    check_return_url,
    is_valid_idn,
    normalize_msisdn,
)
from ..core.audit_events import Event
from ..core.ratelimit import RateLimiter
from ..core.sessions import MAX_RELAY_STATE
from ..errors import InvalidParameter, KeyLocked, MSignError, RequestClosed, RequestNotFound, SigningRefused, WrongPin
from ..i18n import LANGUAGES, normalize_language, pages, translate
from ..instruments.api import CloudKeyInstrument, Instrument, LocalSignerInstrument, MobileInstrument
from ..observability import CallContext, annotate, annotate_request_id, bind, reset
from . import local_signer, mobile
from .security import content_security_policy, new_nonce, origin, secure_headers

__all__ = ["SOAP_LINK", "WebApp", "create_web_app"]

log = logging.getLogger(__name__)

#: Where the index page points integrators.
SOAP_LINK = "/MSign.svc?singleWsdl"
_ENTRY_PARAMETERS = ("returnurl", "relaystate", "instrument", "msisdn")
_LANGUAGE_NAMES = {"ro": "Română", "ru": "Русский", "en": "English"}
# Linked from every page, so that browsers do not ask for a missing /favicon.ico.
_FAVICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#0b3d91"/>'
    '<path d="M3 12V4l5 5 5-5v8" fill="none" stroke="#fff" stroke-width="2"/></svg>'
)


class PageRequest(Request):
    # The entry form is small; anything larger is not from an e-service.
    max_content_length = 64 * 1024
    max_form_memory_size = 64 * 1024


class PageError(Exception):
    """Show the error page: ``title`` and ``message`` are message IDs."""

    def __init__(self, status: int, title: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.title = title
        self.message = message


def _params(request: Request, *, refused_form: bool = False) -> dict[str, str]:
    """Query and form parameters with lower-case names; the form wins, empty values are absent.

    :param refused_form: a form too large to read counts as none (the page that says so).
    """
    params: dict[str, str] = {}
    sources = [request.args]
    try:
        sources.append(request.form)
    except RequestEntityTooLarge:
        if not refused_form:
            raise
    for source in sources:
        for key, value in source.items(multi=True):
            if value.strip():
                params[key.lower()] = value.strip()
    return params


def _request_id(value: str) -> str:
    # The SPA of the real service shows IDs as dashed GUIDs; accept them too.
    return value.replace("-", "").lower()


def _route_template(rule: str) -> str:
    """``/<request_id>/content/<int:position>`` as ``/{request_id}/content/{position}``."""
    return re.sub(r"<(?:[^<>:]+:)?([^<>]+)>", r"{\1}", rule)


def _download_name(name: str | None, position: int) -> str:
    base = "".join(c for c in (name or "") if c.isprintable() and c not in '/\\"') or f"document-{position + 1}"
    return base if base.lower().endswith(".pdf") else base + ".pdf"


class WebApp:
    """The sign page's WSGI application.

    :param requests: the request lifecycle.
    :param signing: the signing flow the instruments use.
    :param instruments: the instruments the page offers, by name; the cards
        of the others are shown as not available.
    """

    def __init__(
        self,
        requests: RequestService,
        signing: SigningService | None = None,
        instruments: Mapping[str, Instrument] | None = None,
        local_signer_url: str | None = None,
    ) -> None:
        self.sessions = SignSessions(requests)
        #: https ReturnUrls with registered prefixes only (``Config.production``).
        self.production = requests.config.production
        self.trail = requests.audit
        rate = requests.config.pin_rate_limit
        #: PIN entries per second from one address; bursts of 10, more than a
        #: key's lock allows (``pin_attempts``), so the lock is what a user meets.
        self.pin_limiter = RateLimiter(rate, 10) if rate else None
        self.local_signer_url = local_signer_url
        self.signing = signing
        self.instruments = dict(instruments or {})
        self.env = Environment(
            loader=PackageLoader("msign_soap", "_templates"),
            autoescape=select_autoescape(default=True, default_for_string=True),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.url_map = Map(
            [
                Rule("/", endpoint="index", methods=["GET"]),
                Rule("/favicon.svg", endpoint="favicon", methods=["GET"]),
                Rule("/<request_id>", endpoint="entry", methods=["GET", "POST"]),
                Rule("/<request_id>/sign", endpoint="page", methods=["GET"]),
                Rule("/<request_id>/sign/<instrument>", endpoint="instrument", methods=["GET", "POST"]),
                Rule("/<request_id>/mobile", endpoint="mobile", methods=["GET"]),
                Rule("/<request_id>/cancel", endpoint="cancel", methods=["POST"]),
                Rule("/<request_id>/content/<int:position>", endpoint="content", methods=["GET"]),
                Rule(local_signer.SCRIPT_PATH, endpoint="local_signer_script", methods=["GET"]),
                Rule(
                    "/<request_id>/local-signer/<instrument>/<int:position>",
                    endpoint="local_signer_result",
                    methods=["POST"],
                ),
            ]
        )
        #: The metrics' ``route`` of each endpoint: its rule as a template (``/{request_id}/sign``).
        self.routes = {rule.endpoint: _route_template(rule.rule) for rule in self.url_map.iter_rules()}
        self.metrics = requests.metrics

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        request = PageRequest(environ)
        local_signer.allow_upload(request, self.sessions.requests.config)
        # the step's RequestID and instrument for the logs and metrics (dispatch fills them in)
        call = CallContext()
        token = bind(call)
        try:
            response = self.dispatch(request)
        finally:
            reset(token)
        self.metrics.page(call.route, response.status_code)
        return response(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        lang = normalize_language(request.args.get("lang"))
        try:
            lang = normalize_language(_params(request).get("lang"))
            rule, values = self.url_map.bind_to_environ(request.environ).match(return_rule=True)
            endpoint = rule.endpoint
            self._annotate(endpoint, values)
            response: Response = getattr(self, f"on_{endpoint}")(request, **values)
            return response
        except PageError as e:
            return self.error_page(request, lang, e.status, e.title, e.message)
        except (NotFound, RequestNotFound):
            return self.error_page(request, lang, 404, pages.NOT_FOUND_TITLE, pages.NOT_FOUND)
        except HTTPException as e:
            return secure_headers(
                Response(e.description or e.name, status=e.code, content_type="text/plain; charset=utf-8")
            )
        except Exception:
            log.exception("the sign page failed on %s %s", request.method, request.path)
            return self.error_page(request, lang, 500, pages.SERVER_ERROR_TITLE, pages.SERVER_ERROR)

    def _annotate(self, endpoint: Any, values: Mapping[str, Any]) -> None:
        """Note the step's route, RequestID and instrument (a known one) for the logs and metrics."""
        instrument = "mobile" if endpoint == "mobile" else values.get("instrument")
        annotate(route=self.routes.get(endpoint), instrument=instrument if instrument in INSTRUMENTS else None)
        if "request_id" in values:
            annotate_request_id(_request_id(values["request_id"]))

    # -- views -------------------------------------------------------------

    def audit(self, event: Event, request: Request, request_id: str, **detail: str | None) -> None:
        """Record what a user did on the page, with their address."""
        self.trail.record(event, request_id=request_id, address=client_address(request.environ), detail=detail)

    def on_index(self, request: Request) -> Response:
        lang = normalize_language(request.args.get("lang"))
        return self.render(request, "index.html", lang, soap_link=SOAP_LINK)

    def on_favicon(self, request: Request) -> Response:
        response = Response(_FAVICON, content_type="image/svg+xml")
        response.cache_control.max_age = 86400
        response.cache_control.public = True
        return secure_headers(response)

    def on_entry(self, request: Request, request_id: str) -> Response:
        request_id = _request_id(request_id)
        params = _params(request)
        lang = normalize_language(params.get("lang"))
        summary = self.sessions.summary(request_id)
        try:
            return_url = check_return_url(
                params.get("returnurl"), summary.return_url_prefixes, production=self.production
            )
        except InvalidParameter as e:
            message = pages.MISSING_RETURN_URL if "returnurl" not in params else pages.INVALID_RETURN_URL
            log.info("entry to %s refused: %s", request_id, e.reason)
            raise PageError(400, pages.INVALID_REQUEST_TITLE, message) from e
        relay_state = params.get("relaystate")
        if relay_state is not None and len(relay_state) > MAX_RELAY_STATE:
            raise PageError(400, pages.INVALID_REQUEST_TITLE, pages.RELAY_STATE_TOO_LONG)
        if summary.status.finished:
            # Re-opened after the end: its result and the way back, without auto-submit.
            entry = EntryParameters(return_url, relay_state, lang=lang)
            return self.result_page(request, summary, entry, lang, status=410, auto=False)
        msisdn = params.get("msisdn")
        if msisdn is not None:
            try:
                msisdn = normalize_msisdn(msisdn)
            except InvalidParameter as e:
                raise PageError(400, pages.INVALID_REQUEST_TITLE, pages.INVALID_MSISDN) from e
        instrument = params.get("instrument", "").lower()
        entry = EntryParameters(
            return_url=return_url,
            relay_state=relay_state,
            instrument=instrument if instrument in INSTRUMENTS else None,
            msisdn=msisdn,
            lang=lang,
        )
        self.sessions.start(request_id, entry)
        self.audit(Event.PAGE_OPENED, request, request_id, instrument=entry.instrument, lang=lang)
        return secure_headers(redirect(f"/{request_id}/sign", code=303))

    def on_page(self, request: Request, request_id: str) -> Response:
        summary = self.sessions.summary(_request_id(request_id))
        session = self._session(request, summary.request_id)
        lang = normalize_language(request.args.get("lang") or session.entry.lang)
        if summary.status.finished:
            return self.result_page(request, summary, session.entry, lang, auto=True)
        # ``Instrument=`` at the entry skips the choice when that form is here;
        # for ``mobile`` only when the phone and the signer are both known.
        chosen = session.entry.instrument if self._cloud_key(session.entry.instrument) else None
        if session.entry.instrument == "mobile" and self._mobile(session.entry.instrument) is not None:
            chosen = "mobile" if session.entry.msisdn and summary.expected_signer_id else None
        local = self._local_signer(session.entry.instrument)
        if local is not None and not request.args.get("choose"):
            return local_signer.page(self, request, summary, session, local, lang)
        return self.sign_page(request, summary, session, lang, chosen)

    def on_instrument(self, request: Request, request_id: str, instrument: str) -> Response:
        summary = self.sessions.summary(_request_id(request_id))
        session = self._session(request, summary.request_id)
        cloud_key = self._cloud_key(instrument)
        mobile_instrument = self._mobile(instrument)
        local = self._local_signer(instrument)
        if local is not None and request.method == "GET":
            lang = normalize_language(request.args.get("lang") or session.entry.lang)
            if summary.status.finished:
                return self.result_page(request, summary, session.entry, lang, auto=True)
            return local_signer.page(self, request, summary, session, local, lang)
        if cloud_key is None and mobile_instrument is None:
            raise NotFound()
        if request.method == "GET":
            lang = normalize_language(request.args.get("lang") or session.entry.lang)
            if summary.status.finished:
                return self.result_page(request, summary, session.entry, lang, auto=True)
            return self.sign_page(request, summary, session, lang, instrument)
        if not session.check_csrf(request.form.get("csrf")):
            raise PageError(403, pages.BAD_CSRF_TITLE, pages.BAD_CSRF)
        lang = normalize_language(request.form.get("lang") or session.entry.lang)
        if mobile_instrument is not None:
            return mobile.submit(self, request, summary, session, mobile_instrument, lang)
        assert cloud_key is not None
        done = redirect(f"/{summary.request_id}/sign?{urlencode({'lang': lang})}", code=303)
        if summary.status.finished:
            return secure_headers(done)
        # The read-only IDNP of ExpectedSigner is a convenience: the signing
        # flow checks the signer against it and ends a mismatch as Failure.
        idnp = request.form.get("idnp", "").strip() or summary.expected_signer_id or ""
        pin = request.form.get("pin", "")
        again = functools.partial(self.sign_page, request, summary, session, lang, cloud_key.name, idnp=idnp)
        if not is_valid_idn(idnp):
            return again(error=pages.INVALID_IDNP)
        if not pin:
            return again(error=pages.MISSING_PIN)
        if self.pin_limiter is not None and (wait := self.pin_limiter.take(client_address(request.environ))):
            log.info("request %s: PIN entries from %s too fast", summary.request_id, client_address(request.environ))
            refused = again(error=pages.TOO_MANY_ATTEMPTS)
            refused.status_code = 429
            refused.headers["Retry-After"] = str(wait)
            return refused
        self.audit(Event.INSTRUMENT_CHOSEN, request, summary.request_id, instrument=cloud_key.name)
        try:
            cloud_key.sign(summary.request_id, idnp, pin)
        except WrongPin as e:
            log.info("request %s: %s refused the PIN of %s", summary.request_id, cloud_key.name, idnp)
            return again(error=e.message_id, attempts_left=e.attempts_left)
        except KeyLocked as e:
            log.info("request %s: the %s key of %s is locked", summary.request_id, cloud_key.name, idnp)
            return again(error=e.message_id)
        except (SigningRefused, RequestClosed) as e:
            # The request is finished (Failure with the reason, or already
            # ended): the page shows its result.
            log.info("request %s: %s signing ended: %s", summary.request_id, cloud_key.name, e)
        except MSignError:
            log.exception("request %s: %s could not sign", summary.request_id, cloud_key.name)
            return again(error=pages.SIGNING_FAILED)
        return secure_headers(done)

    def on_mobile(self, request: Request, request_id: str) -> Response:
        summary = self.sessions.summary(_request_id(request_id))
        session = self._session(request, summary.request_id)
        instrument = self._mobile("mobile")
        if instrument is None:
            raise NotFound()
        return mobile.progress_page(self, request, summary, session, instrument)

    def on_local_signer_script(self, request: Request) -> Response:
        return local_signer.script(request)

    def on_local_signer_result(self, request: Request, request_id: str, instrument: str, position: int) -> Response:
        summary = self.sessions.summary(_request_id(request_id))
        session = self._session(request, summary.request_id)
        local = self._local_signer(instrument)
        if local is None:
            raise NotFound()
        return local_signer.accept(self, request, summary, session, local, position)

    def on_cancel(self, request: Request, request_id: str) -> Response:
        request_id = _request_id(request_id)
        summary = self.sessions.summary(request_id)
        session = self._session(request, summary.request_id)
        if not session.check_csrf(request.form.get("csrf")):
            raise PageError(403, pages.BAD_CSRF_TITLE, pages.BAD_CSRF)
        self.sessions.cancel(request_id)
        self.audit(Event.CANCELLED, request, request_id)
        lang = normalize_language(request.form.get("lang") or session.entry.lang)
        return secure_headers(redirect(f"/{request_id}/sign?{urlencode({'lang': lang})}", code=303))

    def on_content(self, request: Request, request_id: str, position: int) -> Response:
        request_id = _request_id(request_id)
        if self.sessions.session(request_id) is None:
            raise RequestNotFound()
        name, data = self.sessions.document(request_id, position)
        response = send_file(
            io.BytesIO(data),
            request.environ,
            mimetype="application/pdf",
            as_attachment=True,
            download_name=_download_name(name, position),
            conditional=False,
            etag=False,
            max_age=None,
        )
        return secure_headers(response, "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; sandbox")

    # -- pages -------------------------------------------------------------

    def _cloud_key(self, name: str | None) -> CloudKeyInstrument | None:
        instrument = self.instruments.get(name or "")
        return instrument if isinstance(instrument, CloudKeyInstrument) else None

    def _mobile(self, name: str | None) -> MobileInstrument | None:
        instrument = self.instruments.get(name or "")
        return instrument if isinstance(instrument, MobileInstrument) else None

    def _local_signer(self, name: str | None) -> LocalSignerInstrument | None:
        # the page needs to know where the signer on the user's machine is
        instrument = self.instruments.get(name or "")
        if isinstance(instrument, LocalSignerInstrument) and self.local_signer_url is not None:
            return instrument
        return None

    def sign_page(
        self,
        request: Request,
        summary: RequestSummary,
        session: SignSession,
        lang: str,
        chosen: str | None,
        *,
        idnp: str = "",
        error: str | None = None,
        attempts_left: int | None = None,
        phone: str | None = None,
    ) -> Response:
        """The contents, the instrument cards and, when one is ``chosen``, its form.

        :param phone: the phone number the mobile form shows (default: the entry's ``MSISDN``).
        """
        instruments = [
            {
                "name": name,
                "title": translate(pages.INSTRUMENT_NAMES[name], lang),
                "available": any(
                    find(name) is not None for find in (self._cloud_key, self._mobile, self._local_signer)
                ),
            }
            for name in INSTRUMENTS
        ]
        message = translate(error, lang) if error else None
        if message and attempts_left is not None:
            message += " " + translate(pages.ATTEMPTS_LEFT, lang).format(n=attempts_left)
        return self.render(
            request,
            "sign.html",
            lang,
            status=200,
            summary=summary,
            session=session,
            csrf=session.csrf_token(),
            instruments=instruments,
            requested=chosen or session.entry.instrument,
            chosen=chosen,
            chosen_title=translate(pages.INSTRUMENT_NAMES[chosen], lang) if chosen else None,
            idnp=summary.expected_signer_id or idnp,
            idnp_fixed=summary.expected_signer_id is not None,
            error=message,
            msisdn=session.entry.msisdn,
            phone=mobile.local_number(session.entry.msisdn) if phone is None else phone,
        )

    def _session(self, request: Request, request_id: str) -> SignSession:
        session = self.sessions.session(request_id)
        if session is None:
            raise PageError(400, pages.INVALID_REQUEST_TITLE, pages.NO_SESSION)
        return session

    def result_page(
        self,
        request: Request,
        summary: RequestSummary,
        entry: EntryParameters,
        lang: str,
        *,
        status: int = 200,
        auto: bool,
    ) -> Response:
        """The result of a finished request and the callback form to the ReturnUrl."""
        return self.render(
            request,
            "result.html",
            lang,
            status=status,
            form_action=origin(entry.return_url),
            script=auto,
            summary=summary,
            succeeded=summary.status is SignStatus.SUCCESS,
            reason=translate(summary.reason, lang) if summary.reason else None,
            return_url=entry.return_url,
            relay_state=entry.relay_state,
            auto=auto,
        )

    def error_page(self, request: Request, lang: str, status: int, title: str, message: str) -> Response:
        return self.render(
            request, "error.html", lang, status=status, title=translate(title, lang), message=translate(message, lang)
        )

    def render(
        self,
        request: Request,
        template: str,
        lang: str,
        *,
        status: int = 200,
        form_action: str | None = None,
        script: bool = False,
        connect: str | None = None,
        **context: Any,
    ) -> Response:
        nonce = new_nonce()
        # The language switch repeats the entry's parameters (an entry error
        # page), or leads to the page itself (never to the cancel action).
        path = request.path
        if path.endswith("/cancel"):
            path = path.removesuffix("/cancel") + "/sign"
        params = {k: v for k, v in _params(request, refused_form=True).items() if k in _ENTRY_PARAMETERS}

        def lang_url(code: str) -> str:
            return path + "?" + urlencode({**params, "lang": code})

        body = self.env.get_template(template).render(
            _=lambda message: translate(message, lang),
            lang=lang,
            nonce=nonce,
            languages=[(code, _LANGUAGE_NAMES[code]) for code in LANGUAGES],
            lang_url=lang_url,
            **context,
        )
        response = Response(body, status=status, content_type="text/html; charset=utf-8")
        csp = content_security_policy(nonce, form_action=form_action, script=script, connect=connect)
        return secure_headers(response, csp)


def create_web_app(
    requests: RequestService,
    signing: SigningService | None = None,
    instruments: Mapping[str, Instrument] | None = None,
    local_signer_url: str | None = None,
) -> WebApp:
    """The sign page's WSGI application over ``requests``, offering ``instruments``
    (which sign through ``signing``); the local signers' page talks to ``local_signer_url``."""
    return WebApp(requests, signing, instruments, local_signer_url)
