"""The interface between the sign page and the signing instruments.

The contract names the instruments ``mobile``, ``moldsign``, ``nationalid``,
``securesign`` and ``tax`` (``SignRequest``'s ``Instrument`` entry
parameter). Each is one object of a *kind* — how the user signs — so that
the page shows one form per kind:

- ``cloud-key`` (:class:`CloudKeyInstrument`): keys held by the service,
  unlocked by IDNP + PIN; one PIN signs the whole batch.
- ``mobile`` (:class:`MobileInstrument`): a mobile signature service provider
  has the user's phone sign, one content at a time, while the page polls
  (:meth:`MobileInstrument.poll`).
- ``local-signer`` (:class:`LocalSignerInstrument`): a signer on the user's
  machine (the MoldSign app, ``msign-soap local-signer``) signs each content
  as the page's script asks it; the page posts each result, which the
  service checks before accepting it (:meth:`LocalSignerInstrument.accept`).

Instruments sign through :class:`~msign_soap.core.SigningService`, which
checks the signer (trust, revocation, ExpectedSigner) and ends the request.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import ClassVar

__all__ = [
    "CLOUD_KEY",
    "LOCAL_SIGNER",
    "MOBILE",
    "CloudKeyInstrument",
    "Instrument",
    "LocalSignerInstrument",
    "LocalSignerProgress",
    "MobileInstrument",
    "MobileProgress",
]

#: :attr:`Instrument.kind` of the cloud keys.
CLOUD_KEY = "cloud-key"
#: :attr:`Instrument.kind` of the mobile signature.
MOBILE = "mobile"
#: :attr:`Instrument.kind` of the signers on the user's machine (``moldsign``, ``nationalid``).
LOCAL_SIGNER = "local-signer"


class Instrument(abc.ABC):
    """A way for the user to sign.

    :ivar name: the contract's name (``securesign``, ``tax``, …).
    :ivar kind: how the user signs with it (:data:`CLOUD_KEY`, …).
    """

    kind: ClassVar[str]

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} ({self.kind})>"


class CloudKeyInstrument(Instrument):
    """An instrument whose keys the service holds, unlocked by IDNP and PIN."""

    kind = CLOUD_KEY

    @abc.abstractmethod
    def sign(self, request_id: str, idnp: str, pin: str) -> None:
        """Sign every content of the request with ``idnp``'s key, unlocked by ``pin``.

        :raises WrongPin: no key for ``idnp``, or a wrong PIN (counted);
            the request stays ``Pending``.
        :raises KeyLocked: too many wrong PINs; the request stays ``Pending``.
        :raises RequestNotFound: unknown request.
        :raises RequestClosed: the request is no longer ``Pending``; no PIN
            attempt is counted.
        :raises SigningRefused: the signing flow refused the signer (e.g.
            ExpectedSigner, revocation) and ended the request ``Failure``.
        :raises MSignError: as :meth:`~msign_soap.core.SigningService.sign_with_key`.

        Every error that the user may see carries ``message_id``, a message
        of :mod:`msign_soap.i18n.messages`.
        """


@dataclass(frozen=True)
class MobileProgress:
    """Where a mobile signing stands, as the progress page shows it.

    :ivar msisdn: the phone asked to sign (``373XXXXXXXX``).
    :ivar signed: how many contents the phone has signed.
    :ivar total: how many contents there are (one transaction each).
    :ivar verification_code: the code of the content the phone is asked to
        sign now (the phone shows the same), ``None`` between two.
    :ivar notice: message ID of a passing trouble (the provider did not
        answer the last poll), if any.
    :ivar finished: the request has ended; its result says how.
    """

    msisdn: str
    signed: int
    total: int
    verification_code: str | None = None
    notice: str | None = None
    finished: bool = False

    @property
    def current(self) -> int:
        """The content being signed, counted from 1 ("k of N")."""
        return min(self.signed + 1, self.total)


class MobileInstrument(Instrument):
    """An instrument where the user signs on a phone, through a mobile
    signature service provider; one transaction per content."""

    kind = MOBILE

    @abc.abstractmethod
    def start(self, request_id: str, msisdn: str, idnp: str | None) -> MobileProgress:
        """Learn the signer's certificate from the provider, prepare every
        content, and send the first content to the phone.

        :param msisdn: the phone, ``373XXXXXXXX``.
        :param idnp: the IDNP the user typed (the provider checks the phone is
            theirs); ``None`` when ExpectedSigner.ID names the signer (the
            signing flow checks the certificate against it).
        :raises MsspError: no mobile signature for this phone (and IDNP), or
            the provider cannot be reached; the request stays ``Pending``.
        :raises RequestNotFound: unknown request.
        :raises RequestClosed: the request is no longer ``Pending``.
        :raises SigningRefused: the signing flow refused the signer and ended
            the request ``Failure``.
        :raises MSignError: as :meth:`~msign_soap.core.SigningService.prepare`.
        """

    @abc.abstractmethod
    def poll(self, request_id: str) -> MobileProgress | None:
        """Advance the request: ask the provider about the current content;
        with its signature, send the next content, or finish the request
        after the last; a refusal, a timeout or a blocked PIN end it ``Failure``.

        :return: where it stands now; ``None`` when no mobile signing was started.
        :raises RequestNotFound: unknown request.
        """


@dataclass(frozen=True)
class LocalSignerProgress:
    """How many contents of a request a local signer's results cover.

    :ivar accepted: the positions (0-based) whose result is accepted.
    :ivar total: how many contents there are.
    :ivar finished: the request has ended; its result says how.
    """

    accepted: tuple[int, ...]
    total: int
    finished: bool = False


class LocalSignerInstrument(Instrument):
    """An instrument whose key is on the user's machine: the page's script has
    a local signer sign each content and posts the signed result here."""

    kind = LOCAL_SIGNER

    @abc.abstractmethod
    def accept(self, request_id: str, position: int, document: bytes) -> LocalSignerProgress:
        """Check the local signer's result for content ``position`` and keep it;
        once every content has one, end the request ``Success``.

        :param document: for a ``Hash`` content the XAdES document, for a
            ``Pdf`` content the signed PDF.
        :raises ResultRejected: not a valid, time-stamped signature of this
            content (or, for a PDF, other changes besides it): nothing is
            kept, the request stays ``Pending``.
        :raises SigningRefused: the signer is refused (trust, revocation,
            ExpectedSigner, another signer than the batch's): the request is
            now ``Failure``.
        :raises RequestNotFound: unknown request, or no such content.
        :raises RequestClosed: the request is no longer ``Pending``.
        """

    @abc.abstractmethod
    def progress(self, request_id: str) -> LocalSignerProgress:
        """Which contents have an accepted result.

        :raises RequestNotFound: unknown request.
        """

    @abc.abstractmethod
    def hashes(self, request_id: str) -> tuple[bytes, ...]:
        """The digests a ``Hash`` request's contents are (what the local
        signer signs), in order; empty for a ``Pdf`` request (the page
        downloads each PDF) or when the documents are deleted.

        :raises RequestNotFound: unknown request.
        """
