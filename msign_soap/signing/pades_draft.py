"""The state a PAdES signature keeps between its two steps (ETSI EN 319 142-1).

:func:`msign_soap.signing.pades.prepare_pades` returns a :class:`PadesDraft`;
it is stored (as JSON) next to the prepared document until the signer's
signature value comes back for :func:`msign_soap.signing.pades.finish_pades`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..errors import SigningError

__all__ = ["DIGEST_ALGORITHM", "LEVELS", "SIGNATURE_ALGORITHMS", "PadesDraft"]

#: The PAdES baseline levels produced.
LEVELS = ("B-T", "B-LT")
DIGEST_ALGORITHM = "sha256"
#: Key type -> CMS signature algorithm (RSA is PKCS #1 v1.5; RFC 5754 §3).
SIGNATURE_ALGORITHMS = {"rsa": "sha256_rsa", "ec": "sha256_ecdsa"}
_DRAFT_VERSION = 1


@dataclass(frozen=True)
class PadesDraft:
    """What :func:`~msign_soap.signing.pades.finish_pades` needs besides the prepared document.

    A few kilobytes (mostly the certificates); :meth:`to_json` and
    :meth:`from_json` carry it through storage.
    """

    level: str
    digest_algorithm: str
    #: asn1crypto name of the signature algorithm: ``sha256_rsa`` (RSA PKCS #1
    #: v1.5) or ``sha256_ecdsa``.
    signature_algorithm: str
    #: DER of the CMS SignedAttributes (a SET OF Attribute, tag 0x31).
    signed_attributes: bytes
    certificate: bytes
    chain: tuple[bytes, ...]
    field_name: str
    signing_time: datetime
    #: Offsets of the ``<...>`` hex string left out of the ``/ByteRange``.
    reserved_start: int
    reserved_end: int
    document_digest: bytes
    prepared_size: int

    @property
    def data_to_be_signed(self) -> bytes:
        """The bytes the signer's key signs (hashing them with SHA-256 first)."""
        return self.signed_attributes

    @property
    def data_to_be_signed_digest(self) -> bytes:
        """SHA-256 of :attr:`data_to_be_signed`, for signers that take a digest."""
        return hashlib.sha256(self.signed_attributes).digest()

    def to_json(self) -> str:
        """Serialise to a JSON object (binary fields in base64)."""

        def b64(data: bytes) -> str:
            return base64.b64encode(data).decode("ascii")

        return json.dumps(
            {
                "v": _DRAFT_VERSION,
                "level": self.level,
                "digest_algorithm": self.digest_algorithm,
                "signature_algorithm": self.signature_algorithm,
                "signed_attributes": b64(self.signed_attributes),
                "certificate": b64(self.certificate),
                "chain": [b64(c) for c in self.chain],
                "field_name": self.field_name,
                "signing_time": self.signing_time.isoformat(),
                "reserved_start": self.reserved_start,
                "reserved_end": self.reserved_end,
                "document_digest": b64(self.document_digest),
                "prepared_size": self.prepared_size,
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> PadesDraft:
        """Read back what :meth:`to_json` wrote.

        :raises SigningError: the text is not a draft of this version.
        """

        def unb64(value: Any) -> bytes:
            if not isinstance(value, str):
                raise TypeError("expected a base64 string")
            return base64.b64decode(value, validate=True)

        def integer(value: Any) -> int:
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise TypeError("expected a non-negative integer")
            return value

        try:
            data = json.loads(text)
            if data["v"] != _DRAFT_VERSION:
                raise ValueError(f"version {data['v']!r}")
            draft = cls(
                level=str(data["level"]),
                digest_algorithm=str(data["digest_algorithm"]),
                signature_algorithm=str(data["signature_algorithm"]),
                signed_attributes=unb64(data["signed_attributes"]),
                certificate=unb64(data["certificate"]),
                chain=tuple(unb64(c) for c in data["chain"]),
                field_name=str(data["field_name"]),
                signing_time=datetime.fromisoformat(data["signing_time"]),
                reserved_start=integer(data["reserved_start"]),
                reserved_end=integer(data["reserved_end"]),
                document_digest=unb64(data["document_digest"]),
                prepared_size=integer(data["prepared_size"]),
            )
        except (ValueError, TypeError, KeyError, binascii.Error) as e:
            raise SigningError(f"The stored PAdES draft is damaged: {e}") from e
        if (
            draft.level not in LEVELS
            or draft.digest_algorithm != DIGEST_ALGORITHM
            or draft.signature_algorithm not in SIGNATURE_ALGORITHMS.values()
        ):
            raise SigningError("The stored PAdES draft is damaged: unknown level or algorithm")
        if not draft.reserved_start < draft.reserved_end <= draft.prepared_size:
            raise SigningError("The stored PAdES draft is damaged: bad byte range")
        return draft
