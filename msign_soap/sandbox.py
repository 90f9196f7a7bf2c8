"""The sandbox for integrators' CI: people whose signing ends in a fixed
outcome, and a way to finish a request without a browser, so that an
e-service's own tests can run the whole flow — PostSignRequest, the user's
part, GetSignResponse — against the embedded default.

It exists only with ``sandbox`` on (the default) together with ``demo_pki``
and ``demo_mode``, and never with ``production`` (the configuration refuses
both at once); otherwise none of it is there: ``/sandbox/…`` is 404, the
bundled simulator has no phones that answer by themselves.

The fixed-outcome people (``GET /sandbox/identities`` lists them as JSON):

============  =====================================  ============================================
outcome       IDNP                                   GetSignResponse afterwards
============  =====================================  ============================================
approve       the demo people (2004001234567 …)      ``Success``: real XAdES-T / PAdES-T with the
              and 2009000000018 (Sandbox Approve)    person's key (Elena Ciobanu's certificate is
                                                     revoked: ``Failure``, "The signer's
                                                     certificate has been revoked")
refuse        2009000000029 (Sandbox Refuse)         ``Failure``, "The signing was refused on the
                                                     phone" (``mobile``; with another instrument
                                                     "The user cancelled the signing")
time out      2009000000030 (Sandbox Time-Out)       ``Failure``, "The signing was not confirmed
                                                     on the phone in time"
expire        2009000000041 (Sandbox Expire)         ``Expired``, "The signing request has
                                                     expired": its lifetime ends now
lock the PIN  2009000000052 (Sandbox Lock)           ``Pending``: the person's cloud key at the
                                                     instrument (``securesign``, ``tax``) is locked
                                                     for ``pin_lockout`` seconds, as after
                                                     ``pin_attempts`` wrong PINs; the sign page
                                                     says so to whoever tries it
============  =====================================  ============================================

Their phones, SIM cards of the bundled MSSP simulator that answer by
themselves, so that the sign page's ``mobile`` instrument reaches the same
outcomes with no one at the phone (their pages show what they do and take
no answer):

===========  =======  =================  ===========================================
MSISDN       SIM PIN  holder             the phone
===========  =======  =================  ===========================================
37360000011  1111     Sandbox Approve    approves each content at once: ``Success``
37360000012  2222     Sandbox Refuse     refuses at once: ``Failure`` (refused on the phone)
37360000013  3333     Sandbox Time-Out   never answers: ``Failure`` after ``mssp_timeout``
===========  =======  =================  ===========================================

The demo people's own phones (37360000001 …) wait for a person, as before.

The sandbox people's certificates come from the demo PKI's issuing CA
(:mod:`msign_soap.pki.sandbox`). Sandbox Lock's cloud key is made on its
first lock and sealed under a PIN nobody knows; the others have no cloud key.

``POST /sandbox/{RequestID}/complete`` (a JSON object or a form; every
member optional):

- ``idnp``: whose outcome; default the request's ``ExpectedSigner.ID``;
- ``instrument``: ``securesign`` (default), ``tax``, ``mobile``,
  ``moldsign`` or ``nationalid``: the instrument the user is taken to have
  used (with ``mobile`` a demo person signs with the SIM card's key; ``lock``
  needs a cloud key).

It drives the request through the code the sign page runs: approve signs
with :meth:`~msign_soap.core.SigningService.sign_with_key` (the signer
checks included: another person than ``ExpectedSigner`` ends it
``Failure``), refuse and time out end it with
:meth:`~msign_soap.core.RequestService.fail`, expire with
:meth:`~msign_soap.core.RequestService.expire` (what the maintenance pass
does to an overdue request), lock enters wrong PINs at the cloud key until
its PIN counter locks it. The audit trail and the metrics record each step
as they would a user's. Answer: ``200`` ``{"RequestID": "…", "Status":
"Success" | "Failure" | "Expired" | "Pending"}``; ``400`` an IDNP or
instrument the sandbox does not know, or no IDNP and no ExpectedSigner;
``403`` a request of another consumer; ``404`` an unknown RequestID;
``409`` a request no longer Pending; ``503`` no time-stamp could be had.
Errors are ``{"error": "…"}``.

Only the demo consumer's requests are touched: the request's consumer is
read first and must be the demo consumer — the one every caller without a
client certificate is in demo mode — so a registered e-service's requests
(which exist in demo mode too) are refused with 403 before anything else
happens, whatever the request's state.

Left out: the outcomes of the local signers (``moldsign``, ``nationalid``)
other than approve and refuse, a blocked SIM PIN, and a phone that answers
late.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, rsa
from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from .core import INSTRUMENTS, RequestService, SigningService, SignStatus
from .errors import (
    AuthorizationFailed,
    InvalidDocument,
    InvalidParameter,
    KeyLocked,
    MSignError,
    NotAvailable,
    RequestClosed,
    RequestNotFound,
    SigningRefused,
    TimestampError,
    WrongPin,
)
from .i18n import messages
from .instruments import DEMO_KDF, DEMO_PINS, Instrument, SoftwareCloudKey
from .observability import CallContext, annotate, annotate_request_id, bind, reset
from .pki import DEMO_PEOPLE, DemoPerson, DemoPki, Identity
from .pki.sandbox import APPROVE, EXPIRE, LOCK, REFUSE, SANDBOX_PEOPLE, TIME_OUT, SandboxPerson, sandbox_identity

__all__ = ["SANDBOX_PREFIX", "Sandbox", "SandboxApp"]

log = logging.getLogger(__name__)

#: Where the sandbox's routes live.
SANDBOX_PREFIX = "/sandbox"
#: The instrument a completion is taken to have used when none is named.
DEFAULT_INSTRUMENT = "securesign"
#: The final state each outcome leaves a request in.
_STATUS = {
    APPROVE: SignStatus.SUCCESS,
    REFUSE: SignStatus.FAILURE,
    TIME_OUT: SignStatus.FAILURE,
    EXPIRE: SignStatus.EXPIRED,
    LOCK: SignStatus.PENDING,
}
# What is typed at Sandbox Lock's key: its PIN is random, so this never opens it.
_WRONG_PIN = "sandbox-wrong-pin"
_CLOUD_KEYS = tuple(DEMO_PINS)


class Sandbox:
    """Drives the demo consumer's requests to the outcomes of the fixed-outcome people.

    :param requests: the request lifecycle.
    :param signing: the signing flow (approve).
    :param instruments: the service's instruments (lock uses the cloud keys').
    :param pki: the demo PKI: its people, their SIM cards, its issuing CA.
    """

    def __init__(
        self,
        requests: RequestService,
        signing: SigningService,
        instruments: Mapping[str, Instrument],
        pki: DemoPki,
    ) -> None:
        self.requests = requests
        self.signing = signing
        self.instruments = instruments
        self.pki = pki
        self.demo_people: dict[str, DemoPerson] = {p.idnp: p for p in DEMO_PEOPLE if p.idnp in pki.people}
        self.sandbox_people: dict[str, SandboxPerson] = {p.idnp: p for p in SANDBOX_PEOPLE}
        self._identities: dict[str, Identity] = {}

    # -- the people ---------------------------------------------------------------

    def identities(self) -> list[dict[str, Any]]:
        """The people a completion may name, as ``GET /sandbox/identities`` lists them."""
        listed = []
        for demo in self.demo_people.values():
            revoked = self.pki.people[demo.idnp].revoked
            listed.append(
                {
                    "idnp": demo.idnp,
                    "name": demo.name,
                    "outcome": APPROVE,
                    "status": (SignStatus.FAILURE if revoked else SignStatus.SUCCESS).value,
                    "msisdn": demo.msisdn if demo.msisdn in self.pki.sims else None,
                    "phone": "manual" if demo.msisdn in self.pki.sims else None,
                    "sim_pin": demo.sim_pin if demo.msisdn in self.pki.sims else None,
                    "pins": {provider: DEMO_PINS[provider](demo.idnp) for provider in _CLOUD_KEYS},
                    "revoked": revoked,
                }
            )
        for person in self.sandbox_people.values():
            listed.append(
                {
                    "idnp": person.idnp,
                    "name": person.name,
                    "outcome": person.outcome,
                    "status": _STATUS[person.outcome].value,
                    "msisdn": person.msisdn,
                    "phone": person.autopilot,
                    "sim_pin": person.sim_pin,
                    "pins": {},
                    "revoked": False,
                }
            )
        return listed

    def _identity(self, person: SandboxPerson) -> Identity:
        if person.idnp not in self._identities:
            self._identities[person.idnp] = sandbox_identity(self.pki, person)
        return self._identities[person.idnp]

    # -- completing a request -----------------------------------------------------

    def complete(self, request_id: str, idnp: str | None = None, instrument: str | None = None) -> SignStatus:
        """Drive a Pending request of the demo consumer to ``idnp``'s outcome.

        :param idnp: a demo person or a sandbox person; default the request's ExpectedSigner.ID.
        :param instrument: one of the contract's instruments; default ``securesign``.
        :return: the request's state afterwards.
        :raises RequestNotFound: unknown request.
        :raises AuthorizationFailed: another consumer's request.
        :raises InvalidParameter: no such person or instrument, no IDNP at
            all, or ``lock`` with an instrument without a software cloud key.
        :raises RequestClosed: the request is no longer Pending.
        :raises MSignError: signing failed otherwise (the TSA is down …); still Pending.
        """
        expected_signer = self._demo_request(request_id)
        instrument = instrument or DEFAULT_INSTRUMENT
        if instrument not in INSTRUMENTS:
            raise InvalidParameter("instrument", f"must be one of {', '.join(INSTRUMENTS)}, not {instrument!r}")
        idnp = idnp or expected_signer
        if not idnp:
            raise InvalidParameter("idnp", "is required: the request names no ExpectedSigner")
        person = self.sandbox_people.get(idnp)
        if person is None and idnp not in self.demo_people:
            raise InvalidParameter(
                "idnp", f"{idnp} is neither a demo person nor a sandbox person (GET {SANDBOX_PREFIX}/identities)"
            )
        outcome = person.outcome if person else APPROVE
        self.requests.open_request(request_id)  # RequestClosed now rather than half-way
        annotate(instrument=instrument)
        log.info("sandbox: request %s to %s (%s, %s)", request_id, outcome, idnp, instrument)
        if outcome == APPROVE:
            self._approve(request_id, idnp, person, instrument)
        elif outcome == REFUSE:
            reason = messages.MOBILE_REFUSED if instrument == "mobile" else messages.CANCELLED
            self.requests.fail(request_id, reason, unless_expired=True)
        elif outcome == TIME_OUT:
            self.requests.fail(request_id, messages.MOBILE_TIMEOUT, unless_expired=True)
        elif outcome == EXPIRE:
            self.requests.expire(request_id)
        else:
            assert person is not None and outcome == LOCK
            self._lock(request_id, person, instrument)
        return self._status(request_id)

    def _approve(self, request_id: str, idnp: str, person: SandboxPerson | None, instrument: str) -> None:
        if person is not None:
            signer = self._identity(person)
        elif instrument == "mobile":
            sim = self.pki.sims.get(self.demo_people[idnp].msisdn)
            if sim is None:
                raise InvalidParameter("instrument", f"mobile: {idnp} has no SIM card (the demo PKI predates them)")
            signer = sim
        else:
            signer = self.pki.people[idnp]
        key = signer.private_key
        if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            raise NotAvailable(f"the key of {idnp} cannot sign here")
        try:
            self.signing.sign_with_key(request_id, signer.certificate_der, signer.chain_der, key)
        except (SigningRefused, InvalidDocument, InvalidParameter):
            # the signing flow refused the signer or a content: the request says so (Failure)
            if self._status(request_id) is SignStatus.PENDING:
                raise

    def _lock(self, request_id: str, person: SandboxPerson, instrument: str) -> None:
        cloud_key = self.instruments.get(instrument)
        if not isinstance(cloud_key, SoftwareCloudKey):
            raise InvalidParameter(
                "instrument", f"must be a cloud key of the software keystore ({', '.join(_CLOUD_KEYS)}) to lock a PIN"
            )
        identity = self._identity(person)
        key = identity.private_key
        assert isinstance(key, ec.EllipticCurvePrivateKey)  # sandbox_identity() makes P-256 keys
        # made once, under a PIN nobody knows: every PIN typed at it is wrong
        keystore = cloud_key.keystore
        keystore.add(
            instrument,
            person.idnp,
            identity.certificate_der,
            identity.chain_der,
            key,
            secrets.token_urlsafe(24),
            kdf=DEMO_KDF,
        )
        for _ in range(keystore.counter.max_attempts + 1):
            try:
                cloud_key.sign(request_id, person.idnp, _WRONG_PIN)
            except WrongPin:
                continue
            except KeyLocked as locked:
                log.info("sandbox: %s key of %s locked until %s", instrument, person.idnp, locked.locked_until)
                return
        raise MSignError(f"the {instrument} key of {person.idnp} did not lock")

    def _demo_request(self, request_id: str) -> str | None:
        """Check that the request is the demo consumer's; its ExpectedSigner.ID."""
        SignRequest = self.requests.store.models.SignRequest
        if len(request_id) != 32:
            raise RequestNotFound()
        with self.requests.store.db.connection_context():
            row = (
                SignRequest.select(SignRequest.consumer, SignRequest.expected_signer_id)
                .where(SignRequest.request_id == request_id)
                .first()
            )
        if row is None:
            raise RequestNotFound()
        if row.consumer_id != self.requests.demo_consumer().id:
            raise AuthorizationFailed()
        return row.expected_signer_id  # type: ignore[no-any-return]

    def _status(self, request_id: str) -> SignStatus:
        SignRequest = self.requests.store.models.SignRequest
        with self.requests.store.db.connection_context():
            row = SignRequest.select(SignRequest.status).where(SignRequest.request_id == request_id).first()
        if row is None:
            raise RequestNotFound()
        return SignStatus(row.status)


class _SandboxRequest(Request):
    max_content_length = 64 * 1024
    max_form_memory_size = 64 * 1024


class SandboxApp:
    """The sandbox's routes as a WSGI application, at :data:`SANDBOX_PREFIX`."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.url_map = Map(
            [
                Rule(f"{SANDBOX_PREFIX}/identities", endpoint="identities", methods=["GET"]),
                Rule(f"{SANDBOX_PREFIX}/<request_id>/complete", endpoint="complete", methods=["POST"]),
            ]
        )

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        request = _SandboxRequest(environ)
        call = CallContext()
        token = bind(call)
        try:
            response = self.dispatch(request)
        finally:
            reset(token)
        return response(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        try:
            endpoint, values = self.url_map.bind_to_environ(request.environ).match()
            if endpoint == "identities":
                return _json(self.sandbox.identities())
            return self.on_complete(request, values["request_id"])
        except HTTPException as e:
            return _json({"error": e.description or e.name}, e.code or 400)
        except InvalidParameter as e:
            return _json({"error": e.reason}, 400)
        except AuthorizationFailed as e:
            return _json({"error": e.reason}, 403)
        except RequestNotFound as e:
            return _json({"error": e.reason}, 404)
        except RequestClosed as e:
            return _json({"error": e.reason, "Status": e.status}, 409)
        except (TimestampError, NotAvailable) as e:
            return _json({"error": e.reason}, 503)
        except MSignError as e:
            log.warning("sandbox: %s %s failed: %s", request.method, request.path, e.reason)
            return _json({"error": e.reason}, 500)
        except Exception:
            log.exception("the sandbox failed on %s %s", request.method, request.path)
            return _json({"error": "internal error"}, 500)

    def on_complete(self, request: Request, request_id: str) -> Response:
        # as the sign page does: a dashed GUID is the same RequestID
        request_id = request_id.replace("-", "").lower()
        annotate_request_id(request_id)
        annotate(route=f"{SANDBOX_PREFIX}/{{request_id}}/complete")
        fields = _fields(request)
        status = self.sandbox.complete(request_id, fields.get("idnp"), fields.get("instrument"))
        return _json({"RequestID": request_id, "Status": status.value})


def _fields(request: Request) -> dict[str, str]:
    """The members of a JSON object or the fields of a form; empty values are absent.

    :raises InvalidParameter: a body that is neither, or a member that is not text.
    """
    if request.mimetype == "application/json":
        try:
            data = json.loads(request.get_data(cache=False) or b"{}")
        except ValueError as e:
            raise InvalidParameter("body", "is not JSON") from e
        if not isinstance(data, dict):
            raise InvalidParameter("body", "must be a JSON object")
    else:
        data = request.form.to_dict()
    fields = {}
    for name in ("idnp", "instrument"):
        value = data.get(name)
        if value is not None and not isinstance(value, str):
            raise InvalidParameter(name, "must be a string")
        if value and value.strip():
            fields[name] = value.strip()
    return fields


def _json(data: Any, status: int = 200) -> Response:
    response = Response(json.dumps(data, ensure_ascii=False), status=status, content_type="application/json")
    response.headers["Cache-Control"] = "no-store"
    return response
