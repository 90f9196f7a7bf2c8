"""The interface between the sign page and the signing instruments.

The contract names the instruments ``mobile``, ``moldsign``, ``nationalid``,
``securesign`` and ``tax`` (``SignRequest``'s ``Instrument`` entry
parameter). Each is one object of a *kind* — how the user signs — so that
the page shows one form per kind:

- ``cloud-key`` (:class:`CloudKeyInstrument`): keys held by the service,
  unlocked by IDNP + PIN; one PIN signs the whole batch.

Instruments sign through :class:`~msign_soap.core.SigningService`, which
checks the signer (trust, revocation, ExpectedSigner) and ends the request.
"""

from __future__ import annotations

import abc
from typing import ClassVar

__all__ = ["CLOUD_KEY", "CloudKeyInstrument", "Instrument"]

#: :attr:`Instrument.kind` of the cloud keys.
CLOUD_KEY = "cloud-key"


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
