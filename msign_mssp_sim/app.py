"""The simulated MSSP as a WSGI application: the AP's service endpoint and
one "phone" page per SIM card.

Routes, relative to where the application is mounted (``/mssp-sim`` on the
msign-soap embedded default):

- ``POST /rest/service`` — the TS 102 204 messages in JSON (:mod:`.protocol`).
- ``GET /`` — the SIM cards, each with a link to its phone.
- ``GET /phone/<msisdn>`` — the phone: the pending signature requests, each
  with its text, its verification code, a ``pin`` input and the controls
  ``data-action="approve"`` / ``data-action="refuse"``. While nothing is
  pending the page looks again every two seconds: a small script asks the
  same URL for JSON (``Accept: application/json``: ``{"pending": [IDs]}``)
  and reloads once a request has come; without JavaScript, a meta refresh
  inside ``<noscript>`` reloads it.
- ``POST /phone/<msisdn>/<MSSP_TransID>`` — the phone's answer
  (``action=approve`` with ``pin``, or ``action=refuse``). The transaction ID
  in the path is random and unguessable, which is what keeps other sites from
  answering in the user's name; the PIN does the rest.

A wrong PIN is counted; after ``pin_attempts`` in a row the SIM's PIN is
blocked for ``pin_lockout`` seconds (a real SIM would then want its PUK) and
its pending requests end ``PIN_NR_BLOCKED``.

A SIM card with ``auto`` (:mod:`.cards`) has a phone that answers by itself
as each signature request arrives — approves with its PIN, refuses, or stays
silent until the request's ``TimeOut`` — so that a service's tests can run
the mobile signature without anyone at the phone page, which then only
shows what it does.

This package shares no code with the service: it reads its SIM cards and
access points from files (:mod:`.cards`) and keeps its state in its own
SQLite file (:mod:`.state`).
"""

from __future__ import annotations

import base64
import hmac
import json
import logging
import os
import secrets
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.utils import redirect
from werkzeug.wrappers import Request, Response

from .cards import AUTO_APPROVE, AUTO_REFUSE, SimCard, SimulatorError, load_access_points, load_cards
from .protocol import (
    MAX_BODY,
    MAX_DISPLAY_TEXT,
    MSS_FORMAT_PKCS1,
    SIGNATURE_PROFILE,
    ApInfo,
    Fault,
    b64decode,
    require,
    status,
    verification_code,
)
from .state import BLOCKED, PENDING, REFUSED, SIGNED, State, Transaction

__all__ = ["MSSP_ID", "MsspSimulator", "create_simulator"]

log = logging.getLogger(__name__)

#: The simulator's ``MSSP_ID``.
MSSP_ID = "urn:msign-soap:mssp-sim"
STATE_FILE = "mssp-sim.sqlite3"
_DEFAULT_TIMEOUT = 180
_MAX_TIMEOUT = 600
#: What the phone page says after an answer (``?notice=``); nothing else is shown from the URL.
_NOTICES = {
    "signed": "Signed. The service will pick the signature up.",
    "refused": "Refused. The service will be told.",
    "gone": "That request is no longer waiting for an answer.",
}

#: What the phone page of a SIM card with ``auto`` says it does.
_AUTOPILOT_TEXT = {
    "approve": "approves every request with its PIN",
    "refuse": "refuses every request",
    "silent": "never answers, so every request runs out of time",
}

Clock = Callable[[], datetime]


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class _Request(Request):
    max_content_length = MAX_BODY
    max_form_memory_size = MAX_BODY


class MsspSimulator:
    """The simulator over the SIM cards and access points of ``directory``.

    :param clock: naive-UTC now (tests pin it).
    :param pin_attempts: wrong PINs in a row that block a SIM.
    :param pin_lockout: seconds a blocked SIM stays blocked.
    """

    def __init__(
        self,
        directory: Path,
        *,
        clock: Clock = _utcnow,
        pin_attempts: int = 3,
        pin_lockout: int = 900,
        mssp_id: str = MSSP_ID,
    ) -> None:
        self.cards = load_cards(directory)
        self.access_points = load_access_points(directory)
        self.state = State(directory / STATE_FILE)
        self.clock = clock
        self.pin_attempts = pin_attempts
        self.pin_lockout = timedelta(seconds=pin_lockout)
        self.mssp_id = mssp_id
        self.env = Environment(
            loader=PackageLoader("msign_mssp_sim", "templates"),
            autoescape=select_autoescape(default=True),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.url_map = Map(
            [
                Rule("/", endpoint="index", methods=["GET"]),
                Rule("/rest/service", endpoint="service", methods=["GET", "POST"]),
                Rule("/phone/<msisdn>", endpoint="phone", methods=["GET"]),
                Rule("/phone/<msisdn>/<transaction>", endpoint="answer", methods=["POST"]),
            ],
            strict_slashes=False,
        )

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        request = _Request(environ)
        try:
            endpoint, values = self.url_map.bind_to_environ(environ).match()
            response: Response = getattr(self, f"on_{endpoint}")(request, **values)
        except NotFound:
            response = self._page(request, "message.html", 404, title="Not found", text="There is no such page.")
        except HTTPException as e:
            response = Response(e.description or e.name, status=e.code, content_type="text/plain; charset=utf-8")
        except Exception:
            log.exception("the MSSP simulator failed on %s %s", request.method, request.path)
            response = Response("internal error", status=500, content_type="text/plain; charset=utf-8")
        return response(environ, start_response)

    # -- the AP's service endpoint -------------------------------------------------

    def on_service(self, request: Request) -> Response:
        try:
            if request.method != "POST":
                raise Fault(101, "POST a TS 102 204 message as JSON")
            try:
                message = json.loads(request.get_data(cache=False))
            except ValueError as e:
                raise Fault(101, "the body is not JSON") from e
            if not isinstance(message, dict) or len(message) != 1:
                raise Fault(101, "the body must be an object with one member, the message")
            ((kind, content),) = message.items()
            handler = {
                "MSS_SignatureReq": self._signature,
                "MSS_StatusReq": self._status,
                "MSS_ProfileReq": self._profile,
            }.get(kind)
            if handler is None:
                raise Fault(101, f"unknown message {kind!r}")
            if not isinstance(content, dict):
                raise Fault(101, f"{kind} must be an object")
            answer = handler(self._authenticate(content), content)
            return _json(answer)
        except Fault as fault:
            log.info("MSSP fault: %s", fault)
            return _json(fault.to_json(), fault.http_status)
        except Exception:
            log.exception("the MSSP simulator failed on a message")
            return _json(Fault(900, "internal error").to_json(), 500)

    def _authenticate(self, content: dict[str, Any]) -> ApInfo:
        ap = ApInfo(
            ap_id=str(require(content, "AP_Info.AP_ID")),
            password=str(require(content, "AP_Info.AP_PWD")),
            transaction_id=str(require(content, "AP_Info.AP_TransID")),
            instant=str(require(content, "AP_Info.Instant")),
        )
        expected = self.access_points.get(ap.ap_id)
        if expected is None or not hmac.compare_digest(expected.encode(), ap.password.encode()):
            raise Fault(104, "unknown AP_ID or wrong AP_PWD")
        return ap

    def _card(self, content: dict[str, Any]) -> SimCard:
        msisdn = str(require(content, "MobileUser.MSISDN")).lstrip("+")
        card = self.cards.get(msisdn)
        identifier = (content.get("MobileUser") or {}).get("UserIdentifier")
        if card is None or (identifier and identifier != card.serial_number):
            raise Fault(105, "no mobile signature for this MobileUser")
        return card

    def _info(self) -> dict[str, Any]:
        return {"MSSP_ID": {"URI": self.mssp_id}}

    def _signature(self, ap: ApInfo, content: dict[str, Any]) -> dict[str, Any]:
        card = self._card(content)
        now = self.clock()
        if content.get("MessagingMode", "asynchClientServer") != "asynchClientServer":
            raise Fault(101, "only the asynchClientServer MessagingMode is offered")
        if require(content, "SignatureProfile") != SIGNATURE_PROFILE:
            raise Fault(109, f"the only SignatureProfile is {SIGNATURE_PROFILE}")
        if content.get("MSS_Format", MSS_FORMAT_PKCS1) != MSS_FORMAT_PKCS1:
            raise Fault(101, f"the only MSS_Format is {MSS_FORMAT_PKCS1}")
        if str(require(content, "DataToBeSigned.Encoding")).upper() != "BASE64":
            raise Fault(101, "DataToBeSigned.Encoding must be BASE64")
        digest = b64decode(require(content, "DataToBeSigned.Data"), "DataToBeSigned.Data")
        if len(digest) != 32:
            raise Fault(103, f"DataToBeSigned.Data must be a SHA-256 digest (32 bytes), not {len(digest)} bytes")
        text = require(content, "DataToBeDisplayed.Data")
        if not isinstance(text, str) or len(text) > MAX_DISPLAY_TEXT:
            raise Fault(103, f"DataToBeDisplayed.Data must be text of at most {MAX_DISPLAY_TEXT} characters")
        timeout = content.get("TimeOut", _DEFAULT_TIMEOUT)
        if isinstance(timeout, bool) or not isinstance(timeout, int) or not 0 < timeout <= _MAX_TIMEOUT:
            raise Fault(101, f"TimeOut must be a number of seconds from 1 to {_MAX_TIMEOUT}")
        if self.state.blocked_until(card.msisdn, now):
            raise Fault(402, "the SIM's PIN is blocked")
        transaction = Transaction(
            mssp_trans_id="S" + secrets.token_hex(16),
            ap_id=ap.ap_id,
            ap_trans_id=ap.transaction_id,
            msisdn=card.msisdn,
            digest=digest,
            display_text=text,
            created_at=now,
            expires_at=now + timedelta(seconds=timeout),
            status=PENDING,
            signature=None,
        )
        if not self.state.add(transaction):
            raise Fault(101, "AP_TransID has been used already")
        log.info("MSS_Signature %s for %s from %s", transaction.mssp_trans_id, card.msisdn, ap.ap_id)
        self._autopilot(card, transaction)
        return {
            "MSS_SignatureResp": {
                "AP_Info": ap.echo(),
                "MSSP_Info": self._info(),
                "MSSP_TransID": transaction.mssp_trans_id,
                "Status": status(100),
            }
        }

    def _autopilot(self, card: SimCard, transaction: Transaction) -> None:
        """Answer a new request on a phone that answers by itself (``silent``: never)."""
        if card.auto == AUTO_APPROVE:
            signature = card.sign(card.auto_pin or "", transaction.digest)
            if signature is None:
                raise SimulatorError(f"the autopilot PIN of SIM {card.msisdn} does not unlock its key")
            self.state.answer(transaction.mssp_trans_id, SIGNED, self.clock(), signature)
        elif card.auto == AUTO_REFUSE:
            self.state.answer(transaction.mssp_trans_id, REFUSED, self.clock())
        if card.auto is not None:
            log.info("phone %s answered %s by itself (%s)", card.msisdn, transaction.mssp_trans_id, card.auto)

    def _status(self, ap: ApInfo, content: dict[str, Any]) -> dict[str, Any]:
        transaction = self.state.get(str(require(content, "MSSP_TransID")))
        if transaction is None or transaction.ap_id != ap.ap_id:
            raise Fault(101, "unknown MSSP_TransID")
        answer: dict[str, Any] = {
            "AP_Info": ap.echo(),
            "MSSP_Info": self._info(),
            "MobileUser": {"MSISDN": transaction.msisdn},
        }
        if transaction.status == SIGNED and transaction.signature is not None:
            answer["MSS_Signature"] = {"Base64Signature": _b64(transaction.signature)}
            code = 500
        elif transaction.status == REFUSED:
            code = 401
        elif transaction.status == BLOCKED:
            code = 402
        elif transaction.expires_at <= self.clock():
            code = 208
        else:
            code = 504
        answer["Status"] = status(code)
        return {"MSS_StatusResp": answer}

    def _profile(self, ap: ApInfo, content: dict[str, Any]) -> dict[str, Any]:
        card = self._card(content)
        return {
            "MSS_ProfileResp": {
                "AP_Info": ap.echo(),
                "MSSP_Info": self._info(),
                "SignatureProfile": [SIGNATURE_PROFILE],
                "Certificates": [_b64(card.certificate), *(_b64(c) for c in card.chain)],
                "Status": status(100),
            }
        }

    # -- the phones ------------------------------------------------------------------

    def on_index(self, request: Request) -> Response:
        phones = [(card.msisdn, card.holder) for card in sorted(self.cards.values(), key=lambda c: c.msisdn)]
        return self._page(request, "index.html", phones=phones)

    def on_phone(self, request: Request, msisdn: str, *, message: str | None = None, code: int = 200) -> Response:
        card = self.cards.get(msisdn)
        if card is None:
            raise NotFound()
        now = self.clock()
        pending = [
            {"id": t.mssp_trans_id, "text": t.display_text, "code": verification_code(t.digest)}
            for t in self.state.pending(msisdn, now)
        ]
        if request.accept_mimetypes.best == "application/json":
            return _json({"pending": [p["id"] for p in pending]})
        blocked = self.state.blocked_until(msisdn, now)
        notice = _NOTICES.get(request.args.get("notice", ""))
        return self._page(
            request,
            "phone.html",
            code,
            card=card,
            autopilot=_AUTOPILOT_TEXT.get(card.auto or ""),
            pending=pending,
            blocked=blocked.strftime("%Y-%m-%d %H:%M UTC") if blocked else None,
            notice=notice,
            message=message,
            refresh=not pending,
        )

    def on_answer(self, request: Request, msisdn: str, transaction: str) -> Response:
        card = self.cards.get(msisdn)
        if card is None:
            raise NotFound()
        phone = request.script_root + f"/phone/{msisdn}"
        now = self.clock()
        found = self.state.get(transaction)
        if found is None or found.msisdn != msisdn or found.status != PENDING or found.expires_at <= now:
            return redirect(phone + "?notice=gone", code=303)
        if card.auto is not None:
            return self.on_phone(request, msisdn, message="This phone answers by itself.", code=409)
        action = request.form.get("action")
        if action == "refuse":
            self.state.answer(transaction, REFUSED, now)
            log.info("phone %s refused %s", msisdn, transaction)
            return redirect(phone + "?notice=refused", code=303)
        if action != "approve":
            return self.on_phone(request, msisdn, message="Choose Approve or Refuse.", code=400)
        if self.state.blocked_until(msisdn, now):
            return self.on_phone(request, msisdn, message="The SIM's PIN is blocked.")
        pin = request.form.get("pin", "")
        signature = card.sign(pin, found.digest) if pin else None
        if signature is None:
            left = self.state.wrong_pin(msisdn, now, self.pin_attempts, self.pin_lockout)
            log.info("phone %s: wrong PIN (%d attempts left)", msisdn, left)
            if left == 0:
                return self.on_phone(request, msisdn, message="Too many wrong PINs: the SIM's PIN is blocked.")
            return self.on_phone(request, msisdn, message=f"Wrong PIN. Attempts left: {left}.")
        self.state.right_pin(msisdn)
        if not self.state.answer(transaction, SIGNED, now, signature):
            return redirect(phone + "?notice=gone", code=303)
        log.info("phone %s signed %s", msisdn, transaction)
        return redirect(phone + "?notice=signed", code=303)

    def _page(self, request: Request, template: str, status: int = 200, **context: Any) -> Response:
        nonce = secrets.token_urlsafe(18)
        body = self.env.get_template(template).render(nonce=nonce, root=request.script_root, **context)
        response = Response(body, status=status, content_type="text/html; charset=utf-8")
        response.headers["Content-Security-Policy"] = (
            f"default-src 'none'; style-src 'nonce-{nonce}'; script-src 'nonce-{nonce}'; connect-src 'self'; "
            "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        )
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cache-Control"] = "no-store"
        return response


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _json(data: dict[str, Any], status_code: int = 200) -> Response:
    response = Response(json.dumps(data), status=status_code, content_type="application/json")
    response.headers["Cache-Control"] = "no-store"
    return response


def create_simulator(directory: str | os.PathLike[str], **options: Any) -> MsspSimulator:
    """The simulator over ``directory`` (``sims.json``, ``access-points.json``,
    and its state ``mssp-sim.sqlite3``); ``options`` as :class:`MsspSimulator`.

    :raises SimulatorError: missing or damaged files.
    """
    return MsspSimulator(Path(directory), **options)
