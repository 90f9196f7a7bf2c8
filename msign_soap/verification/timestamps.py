"""RFC 3161 time-stamp tokens over given octets, as a XAdES
``SignatureTimeStamp`` holds them over the canonical ``ds:SignatureValue``.

A token is good when its imprint (SHA-256, SHA-384 or SHA-512; SHA-1 is
refused) is the hash of the octets it should cover, the TSA's CMS signature
verifies, the TSA certificate has the id-kp-timeStamping extended key usage
and chains, valid and unrevoked, to a trust anchor *now* (pyHanko's
``validate_tst_signed_data`` with the trust's context), and its time is not
ahead of the verifier's clock by more than :data:`CLOCK_SKEW`.

Left out: the TSA's accuracy and policy, nonces (a verifier has none), and
validating the TSA at the time-stamp's own time (a TSA certificate expired
or revoked since makes the token not good).
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from asn1crypto import cms, tsp
from pyhanko.sign.general import SigningError as PyHankoSigningError
from pyhanko.sign.validation.errors import SignatureValidationError
from pyhanko.sign.validation.generic_cms import validate_tst_signed_data

from ..errors import InvalidDocument
from .report import Indication
from .trust import Trust, validation_context_at

__all__ = ["CLOCK_SKEW", "IMPRINT_HASHES", "TimestampProblem", "TimestampToken", "check_token"]

#: How far ahead of the verifier's clock a time-stamp may be.
CLOCK_SKEW = timedelta(minutes=5)
#: The imprint hashes accepted.
IMPRINT_HASHES = frozenset({"sha256", "sha384", "sha512"})


@dataclass(frozen=True)
class TimestampToken:
    """A readable time-stamp token: CMS ``SignedData`` around a ``TSTInfo``."""

    signed_data: cms.SignedData
    tst_info: tsp.TSTInfo

    @classmethod
    def load(cls, der: bytes) -> TimestampToken:
        """Read a DER token (``ContentInfo``).

        :raises InvalidDocument: it is not an RFC 3161 time-stamp token.
        """
        try:
            content = cms.ContentInfo.load(der)
            signed_data = content["content"]
            encap = signed_data["encap_content_info"]
            tst_info = encap["content"].parsed
            ok = content["content_type"].native == "signed_data" and encap["content_type"].native == "tst_info"
            tst_info.native  # noqa: B018 - asn1crypto parses lazily; damage shows here
            for certificate in signed_data["certificates"] or ():
                certificate.chosen.native  # noqa: B018
        except (ValueError, TypeError, KeyError, AttributeError) as e:
            raise InvalidDocument("the token is not an RFC 3161 time-stamp token") from e
        if not ok or not isinstance(tst_info, tsp.TSTInfo):
            raise InvalidDocument("the token is not an RFC 3161 time-stamp token")
        return cls(signed_data, tst_info)

    @property
    def certificates(self) -> list[bytes]:
        """The certificates the token carries (DER): the TSA's and its chain, usually."""
        return [c.chosen.dump() for c in self.signed_data["certificates"] or ()]

    @property
    def time(self) -> datetime:
        """``genTime``, aware."""
        when: datetime = self.tst_info["gen_time"].native
        return when.replace(tzinfo=UTC) if when.tzinfo is None else when


@dataclass(frozen=True)
class TimestampProblem:
    """Why a token is not good: the ETSI EN 319 102-1 indication and sub-indication, and a detail."""

    indication: Indication
    sub_indication: str
    detail: str


def check_token(
    token: TimestampToken, covered: bytes, trust: Trust, now: datetime, *, what: str = "the data"
) -> TimestampProblem | None:
    """Check a token over ``covered`` (see the module docstring).

    :param now: the verifier's time, aware.
    :param what: what ``covered`` is, for the detail.
    :return: ``None`` when the token is good.
    """
    imprint = token.tst_info["message_imprint"]
    algorithm = imprint["hash_algorithm"]["algorithm"].native
    if algorithm not in IMPRINT_HASHES:
        return TimestampProblem(
            Indication.TOTAL_FAILED, "CRYPTO_CONSTRAINTS_FAILURE", f"imprint hash {algorithm} is not accepted"
        )
    if imprint["hashed_message"].native != hashlib.new(algorithm, covered).digest():
        return TimestampProblem(Indication.TOTAL_FAILED, "HASH_FAILURE", f"the token is not over {what}")
    try:
        status = asyncio.run(
            validate_tst_signed_data(
                token.signed_data,
                validation_context_at(trust, now),
                expected_tst_imprint=lambda name: hashlib.new(name, covered).digest(),
            )
        )
    except (SignatureValidationError, PyHankoSigningError, ValueError, TypeError, KeyError) as e:
        return TimestampProblem(Indication.TOTAL_FAILED, "SIG_CRYPTO_FAILURE", f"the token does not verify: {e}")
    if not (status.get("intact") and status.get("valid")):
        return TimestampProblem(Indication.TOTAL_FAILED, "SIG_CRYPTO_FAILURE", "the TSA's signature does not verify")
    problem = status.get("trust_problem_indic")
    if problem is not None:
        name = getattr(problem, "name", str(problem))
        return TimestampProblem(Indication.INDETERMINATE, name, f"the TSA certificate is not trusted ({name})")
    if token.time > now + CLOCK_SKEW:
        return TimestampProblem(Indication.TOTAL_FAILED, "FORMAT_FAILURE", f"its time {token.time} is in the future")
    return None
