"""RFC 3161 time-stamps: the client interface, an HTTP client and an in-process TSA.

:class:`Timestamper` is what the XAdES and PAdES builders ask for a
time-stamp token; :class:`HttpTimestamper` gets one from a TSA over HTTP
(RFC 3161 §3.4), :class:`LocalTsa` makes one itself and also answers
requests from other clients (the embedded default serves it at ``/tsa``).

A token is the DER ``ContentInfo`` (CMS ``SignedData`` over a ``TSTInfo``).
:class:`LocalTsa` signs it with SHA-256, names its certificate with an
``ESSCertIDv2`` (RFC 5816), states an accuracy of one second and issues
tokens under :data:`DEMO_TSA_POLICY` unless told another policy.
:func:`check_token_imprint` is what a builder asks before it embeds a token
from any time-stamper: that it is a DER time-stamp token over its imprint.

Left out: the TCP and e-mail transports, ``ordering``, TSA-side extensions
(a request carrying any is refused with ``unacceptedExtension``), SHA-1 and
MD5 imprints (refused with ``badAlg``), and any trust decision about a token:
the client checks that a token answers its request (status, imprint, nonce,
policy), verification of the signature and the TSA's chain belongs to
signature validation.
"""

from __future__ import annotations

import hashlib
import http.client
import re
import secrets
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Protocol

from asn1crypto import algos, cms, core, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from ..errors import ConfigurationError, TimestampError

__all__ = ["DEMO_TSA_POLICY", "HttpTimestamper", "LocalTsa", "Timestamper", "check_token_imprint"]

#: The policy of the tokens :class:`LocalTsa` issues by default: an OID
#: derived from a random UUID (ITU-T X.667, arc 2.25), which needs no
#: registration and names no one else's policy.
DEMO_TSA_POLICY = "2.25.275134710617573305433485100179165133218"

#: Imprint algorithms accepted, with their digest sizes.
_DIGEST_SIZES = {"sha224": 28, "sha256": 32, "sha384": 48, "sha512": 64}
#: Largest TSA reply read (a token with a few certificates is ~5 KiB).
_MAX_REPLY = 1024 * 1024
_REPLY_TYPES = ("application/timestamp-reply", "application/timestamp-response")


class _TimeStampResp(core.Sequence):
    """``TimeStampResp`` with the token optional, as RFC 3161 §2.4.2 has it
    (asn1crypto 1.5 makes it mandatory, so it can neither write nor read a
    rejection)."""

    _fields = [("status", tsp.PKIStatusInfo), ("time_stamp_token", cms.ContentInfo, {"optional": True})]


class Timestamper(Protocol):
    """Anything that time-stamps a digest."""

    def timestamp(self, message_imprint: bytes, hash_algorithm: str = "sha256") -> bytes:
        """Have ``message_imprint`` (a digest made with ``hash_algorithm``) time-stamped.

        :return: the DER time-stamp token (CMS ``ContentInfo``).
        :raises TimestampError: when no token matching the request can be had.
        """
        ...


def _algorithm(name: str, imprint: bytes) -> str:
    algorithm = name.lower().replace("-", "")
    size = _DIGEST_SIZES.get(algorithm)
    if size is None:
        raise TimestampError(f"unsupported time-stamp hash algorithm {name!r}")
    if len(imprint) != size:
        raise TimestampError(f"a {algorithm} imprint has {size} bytes, not {len(imprint)}")
    return algorithm


def _request(imprint: bytes, algorithm: str, nonce: int, policy: str | None) -> tsp.TimeStampReq:
    request = tsp.TimeStampReq(
        {
            "version": "v1",
            "message_imprint": {"hash_algorithm": {"algorithm": algorithm}, "hashed_message": imprint},
            "nonce": nonce,
            "cert_req": True,
        }
    )
    if policy is not None:
        request["req_policy"] = policy
    return request


def _token_for(reply: bytes, request: tsp.TimeStampReq, source: str) -> bytes:
    """The token of ``reply`` if it answers ``request``; :class:`TimestampError` otherwise."""
    try:
        response = _TimeStampResp.load(reply, strict=True)
        status = response["status"]
        if status["status"].native not in ("granted", "granted_with_mods"):
            text = "; ".join(status["status_string"].native or ())
            failure = ", ".join(sorted(status["fail_info"].native or ()))
            detail = ": ".join(x for x in (failure, text) if x)
            raise TimestampError(
                f"{source} refused the time-stamp ({status['status'].native}{detail and ': ' + detail})"
            )
        token = response["time_stamp_token"]
        signed_data = token["content"]
        content = signed_data["encap_content_info"]
        if token["content_type"].native != "signed_data" or content["content_type"].native != "tst_info":
            raise TimestampError(f"{source} answered with something that is not a time-stamp token")
        info = content["content"].parsed
        imprint = info["message_imprint"]
        asked = request["message_imprint"]
        if (
            imprint["hash_algorithm"]["algorithm"].native != asked["hash_algorithm"]["algorithm"].native
            or imprint["hashed_message"].native != asked["hashed_message"].native
        ):
            raise TimestampError(f"{source} time-stamped another imprint than the one sent")
        if info["nonce"].native != request["nonce"].native:
            raise TimestampError(f"{source} answered with another nonce than the one sent")
        if request["req_policy"].native is not None and info["policy"].native != request["req_policy"].native:
            raise TimestampError(f"{source} used policy {info['policy'].dotted}, not the one requested")
        if not signed_data["certificates"]:
            raise TimestampError(f"{source} left its certificate out although it was requested")
        return token.dump()
    except (ValueError, TypeError, KeyError, AttributeError) as e:
        raise TimestampError(f"{source} answered with a malformed time-stamp response") from e


# What check_token_imprint reads, as the identifier octets of the values in each structure.
_SEQUENCE = re.compile(rb"\x30")
_TYPED_CONTENT = re.compile(rb"\x06\xa0")  # ContentInfo, EncapsulatedContentInfo: contentType, [0] content
#: SignedData: version, digestAlgorithms, encapContentInfo, [0] certificates, [1] crls, signerInfos
_SIGNED_DATA = re.compile(rb"\x02\x31\x30\xa0?\xa1?\x31")
_OCTET_STRING = re.compile(rb"\x04")
#: TSTInfo: version, policy, messageImprint, serialNumber, genTime, accuracy, ordering, nonce, [0] tsa, [1] extensions
_TST_INFO = re.compile(rb"\x02\x06\x30\x02\x18\x30?\x01?\x02?\xa0?\xa1?")
_MESSAGE_IMPRINT = re.compile(rb"\x30\x04")  # hashAlgorithm, hashedMessage
_ALGORITHM = re.compile(rb"\x06.?", re.DOTALL)  # algorithm, parameters


def _der_read(data: bytes, shape: re.Pattern[bytes]) -> list[bytes]:
    """The contents of the DER values ``data`` is made of, one after another.

    :param shape: the pattern their identifier octets must match, all of them.
    :raises ValueError: ``data`` does not split into DER values, or they have another shape.
    """
    tags, contents, at, end = bytearray(), [], 0, len(data)
    while at < end:
        if at + 2 > end or data[at] & 0x1F == 0x1F:
            raise ValueError("a truncated value, or a tag number above 30")
        tags.append(data[at])
        length, at = data[at + 1], at + 2
        if length & 0x80:  # long form: DER has it only for 128 octets and more, in as few octets as possible
            count = length & 0x7F
            length, at = int.from_bytes(data[at : at + count], "big"), at + count
            if not 0 < count <= 4 or length < 0x80 or length >> (8 * count - 8) == 0:
                raise ValueError("not a DER length")
        if at + length > end:
            raise ValueError("a truncated value")
        contents.append(data[at : at + length])
        at += length
    if not shape.fullmatch(tags):
        raise ValueError(f"values {tags.hex(' ')} where {shape.pattern!r} belongs")
    return contents


def check_token_imprint(token: bytes, message_imprint: bytes, hash_algorithm: str = "sha256") -> None:
    """Refuse a time-stamp token that is not a ``TSTInfo`` over ``message_imprint``.

    Reads the DER ``ContentInfo`` (RFC 5652), its ``SignedData`` and the
    ``TSTInfo`` (§2.4.2) value by value down to the message imprint, checking
    the shape of each: asn1crypto's classes would build objects for all of the
    token, certificates and signer info included, at five times the cost. Like
    the clients, it makes no trust decision: the signature is not verified.

    :param hash_algorithm: the algorithm ``message_imprint`` was made with.
    :raises TimestampError: the token is not DER, not a time-stamp token, or
        over another imprint or algorithm.
    """
    algorithm = _IMPRINT_ALGORITHM_IDS[_algorithm(hash_algorithm, message_imprint)]
    try:
        (content_info,) = _der_read(token, _SEQUENCE)
        content_type, content = _der_read(content_info, _TYPED_CONTENT)
        (signed_data,) = _der_read(content, _SEQUENCE)
        _, _, encap, *_ = _der_read(signed_data, _SIGNED_DATA)
        encap_type, econtent = _der_read(encap, _TYPED_CONTENT)
        (tst_info_der,) = _der_read(econtent, _OCTET_STRING)
        (tst_info,) = _der_read(tst_info_der, _SEQUENCE)
        _, _, imprint, *_ = _der_read(tst_info, _TST_INFO)
        imprint_algorithm, hashed = _der_read(imprint, _MESSAGE_IMPRINT)
        algorithm_id, *_ = _der_read(imprint_algorithm, _ALGORITHM)
    except ValueError as e:
        raise TimestampError("The time-stamp authority returned an unreadable token") from e
    if content_type != _OID_SIGNED_DATA_CONTENTS or encap_type != _OID_TST_INFO_CONTENTS:
        raise TimestampError("The time-stamp token does not cover this signature value")
    if algorithm_id != algorithm or hashed != message_imprint:
        raise TimestampError("The time-stamp token does not cover this signature value")


class HttpTimestamper:
    """A client of an RFC 3161 TSA over HTTP.

    Each request carries a random 63-bit nonce and asks for the TSA's
    certificate; the answer must be granted and must match imprint, nonce
    and (if asked for) policy.

    :param url: the TSA's URL.
    :param timeout: seconds to wait for connecting and for each read.
    :param headers: extra request headers (``Authorization`` …).
    :param policy: the TSA policy to request (dotted OID), if any.
    """

    def __init__(
        self, url: str, timeout: float = 10.0, headers: Mapping[str, str] | None = None, policy: str | None = None
    ) -> None:
        self.url = url
        self.timeout = timeout
        self.headers = dict(headers or {})
        self.policy = policy

    def timestamp(self, message_imprint: bytes, hash_algorithm: str = "sha256") -> bytes:
        """See :meth:`Timestamper.timestamp`."""
        algorithm = _algorithm(hash_algorithm, message_imprint)
        request = _request(message_imprint, algorithm, secrets.randbits(63), self.policy)
        headers = {
            **self.headers,
            "Content-Type": "application/timestamp-query",
            "Accept": "application/timestamp-reply",
        }
        http_request = urllib.request.Request(self.url, data=request.dump(), headers=headers, method="POST")
        source = f"the TSA at {self.url}"
        try:
            with urllib.request.urlopen(http_request, timeout=self.timeout) as reply:
                content_type = reply.headers.get_content_type()
                body = reply.read(_MAX_REPLY + 1)
        except urllib.error.HTTPError as e:
            e.close()
            raise TimestampError(f"{source} answered HTTP {e.code}") from e
        except urllib.error.URLError as e:
            raise TimestampError(f"{source} cannot be reached: {e.reason}") from e
        except (OSError, http.client.HTTPException) as e:
            raise TimestampError(f"{source} cannot be reached: {e}") from e
        if content_type not in _REPLY_TYPES:
            raise TimestampError(f"{source} answered {content_type}, not application/timestamp-reply")
        if len(body) > _MAX_REPLY:
            raise TimestampError(f"{source} answered with more than {_MAX_REPLY} bytes")
        return _token_for(body, request, source)


class LocalTsa:
    """A time-stamping authority in process: answers DER ``TimeStampReq``
    with DER ``TimeStampResp`` (:meth:`respond`) and is a :class:`Timestamper`.

    :param certificate: the TSA certificate (extended key usage
        id-kp-timeStamping).
    :param private_key: its RSA or EC private key.
    :param chain: certificates to embed after it (issuing CA, root).
    :param policy: the policy OID of the tokens.
    :param clock: the time source; naive datetimes are taken as UTC.
    :raises ConfigurationError: when key and certificate do not belong
        together or the certificate is not a TSA certificate.
    """

    def __init__(
        self,
        certificate: x509.Certificate,
        private_key: PrivateKeyTypes,
        chain: Sequence[x509.Certificate] = (),
        policy: str = DEMO_TSA_POLICY,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        if not isinstance(private_key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            raise ConfigurationError("the TSA key must be an RSA or EC key")
        if private_key.public_key() != certificate.public_key():
            raise ConfigurationError("the TSA key does not belong to the TSA certificate")
        try:
            usages = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        except x509.ExtensionNotFound:
            usages = x509.ExtendedKeyUsage([])
        if x509.ExtendedKeyUsageOID.TIME_STAMPING not in usages:
            raise ConfigurationError("the TSA certificate lacks the id-kp-timeStamping extended key usage")
        self.private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey = private_key
        self.policy = policy
        self.clock = clock
        self._certificate = asn1_x509.Certificate.load(certificate.public_bytes(serialization.Encoding.DER))
        # encoded once: asn1crypto would otherwise re-encode these for every token
        self._certificate_set = cms.CertificateSet(
            [
                self._certificate,
                *(asn1_x509.Certificate.load(c.public_bytes(serialization.Encoding.DER)) for c in chain),
            ]
        ).dump()
        signer_id = cms.SignerIdentifier(
            name="issuer_and_serial_number",
            value={"issuer": self._certificate.issuer, "serial_number": self._certificate.serial_number},
        )
        signing_certificate = tsp.SigningCertificateV2(
            {
                "certs": [
                    {
                        "cert_hash": hashlib.sha256(self._certificate.dump()).digest(),
                        "issuer_serial": {
                            "issuer": [asn1_x509.GeneralName(name="directory_name", value=self._certificate.issuer)],
                            "serial_number": self._certificate.serial_number,
                        },
                    }
                ]
            }
        )
        # Everything but the imprint, nonce, serial number, time and signature is
        # the same in every token: asn1crypto encodes it once here and each token
        # is put together from these DER pieces (what asn1crypto would write).
        tsa_name = asn1_x509.GeneralName(name="directory_name", value=self._certificate.subject)
        self._tst_tsa = tsp.TSTInfo({"tsa": tsa_name})["tsa"].dump()
        self._tst_accuracy = tsp.Accuracy({"seconds": 1}).dump()
        self._policy_der = ("", b"")
        marker = hashlib.sha256(b"message-digest placeholder").digest()
        attributes = cms.CMSAttributes(
            [
                {"type": "content_type", "values": ["tst_info"]},
                {"type": "message_digest", "values": [marker]},
                {"type": "signing_certificate_v2", "values": [signing_certificate]},
            ]
        ).dump()
        if attributes.count(marker) != 1:  # pragma: no cover - a digest cannot collide with the rest
            raise ConfigurationError("cannot lay out the TSA's signed attributes")
        at = attributes.index(marker)
        self._attributes = (attributes[:at], attributes[at + len(marker) :])
        if isinstance(private_key, rsa.RSAPrivateKey):
            signature_algorithm = "rsassa_pkcs1v15"
        else:
            signature_algorithm = "sha256_ecdsa"
        self._signer_info_head = (
            cms.CMSVersion("v1").dump() + signer_id.dump() + cms.DigestAlgorithm({"algorithm": "sha256"}).dump()
        )
        self._signature_algorithm = algos.SignedDigestAlgorithm({"algorithm": signature_algorithm}).dump()
        self._signed_data_head = cms.CMSVersion("v3").dump() + cms.DigestAlgorithms([{"algorithm": "sha256"}]).dump()
        self._certificates = b"\xa0" + self._certificate_set[1:]  # [0] IMPLICIT CertificateSet

    def timestamp(self, message_imprint: bytes, hash_algorithm: str = "sha256") -> bytes:
        """See :meth:`Timestamper.timestamp`."""
        algorithm = _algorithm(hash_algorithm, message_imprint)
        # The token is made here, for this imprint: no request to encode and parse
        # again, no reply to check against a request it was made from.
        imprint = _tlv(0x30, _IMPRINT_ALGORITHMS[algorithm] + _tlv(0x04, message_imprint))
        return self._token(imprint, _der_integer(secrets.randbits(63)), with_certificates=True)

    def respond(self, request: bytes) -> bytes:
        """Answer a DER ``TimeStampReq`` with a DER ``TimeStampResp``.

        A request the TSA does not accept (another version or policy, an
        unsupported or mis-sized imprint, extensions) gets a ``rejection``
        with the matching ``failInfo``.

        :raises TimestampError: when ``request`` is not a DER TimeStampReq.
        """
        try:
            req = tsp.TimeStampReq.load(request, strict=True)
            req.native  # noqa: B018 -- parses every field now, so garbage fails here
        except (ValueError, TypeError, KeyError) as e:
            raise TimestampError("not a DER-encoded TimeStampReq") from e
        imprint = req["message_imprint"]
        algorithm = imprint["hash_algorithm"]["algorithm"].native
        if req["version"].native != "v1":
            return _rejection("bad_request", "unsupported request version")
        if algorithm not in _DIGEST_SIZES:
            return _rejection("bad_alg", f"unsupported imprint algorithm {algorithm}")
        if len(imprint["hashed_message"].native) != _DIGEST_SIZES[algorithm]:
            return _rejection("bad_data_format", f"the imprint is not a {algorithm} digest")
        if req["req_policy"].native is not None and req["req_policy"].dotted != self.policy:
            return _rejection("unaccepted_policy", f"this TSA issues tokens under policy {self.policy} only")
        if req["extensions"].native:
            return _rejection("unaccepted_extensions", "this TSA supports no request extensions")
        nonce = req["nonce"]
        token = self._token(
            imprint.dump(), None if nonce.native is None else nonce.dump(), bool(req["cert_req"].native)
        )
        return _tlv(0x30, _GRANTED + token)

    def _now(self) -> datetime:
        now = self.clock() if self.clock else datetime.now(UTC)
        return now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)

    def _token(self, imprint: bytes, nonce: bytes | None, with_certificates: bool) -> bytes:
        """The DER token (ContentInfo) over the DER ``imprint`` (MessageImprint) and ``nonce`` (INTEGER)."""
        if self._policy_der[0] != self.policy:
            self._policy_der = (self.policy, core.ObjectIdentifier(self.policy).dump())
        tst_info = _tlv(
            0x30,
            b"".join(
                (
                    _V1,
                    self._policy_der[1],
                    imprint,
                    _der_integer(secrets.randbits(126) | (1 << 126)),
                    _der_generalized_time(self._now()),
                    self._tst_accuracy,
                    nonce or b"",
                    self._tst_tsa,
                )
            ),
        )
        head, tail = self._attributes
        signed_attrs = head + hashlib.sha256(tst_info).digest() + tail
        if isinstance(self.private_key, rsa.RSAPrivateKey):
            signature = self.private_key.sign(signed_attrs, padding.PKCS1v15(), hashes.SHA256())
        else:
            signature = self.private_key.sign(signed_attrs, ec.ECDSA(hashes.SHA256()))
        signer_info = _tlv(
            0x30,
            b"".join(
                (
                    self._signer_info_head,
                    b"\xa0" + signed_attrs[1:],  # [0] IMPLICIT SignedAttributes
                    self._signature_algorithm,
                    _tlv(0x04, signature),
                )
            ),
        )
        signed_data = _tlv(
            0x30,
            b"".join(
                (
                    self._signed_data_head,
                    _tlv(0x30, _OID_TST_INFO + _tlv(0xA0, _tlv(0x04, tst_info))),
                    self._certificates if with_certificates else b"",
                    _tlv(0x31, signer_info),
                )
            ),
        )
        return _tlv(0x30, _OID_SIGNED_DATA + _tlv(0xA0, signed_data))


def _tlv(tag: int, content: bytes) -> bytes:
    """A DER tag-length-value (single-byte tag)."""
    size = len(content)
    if size < 0x80:
        return bytes((tag, size)) + content
    if size < 0x10000:  # the lengths in a token, a dozen per token: without the general arithmetic
        return (bytes((tag, 0x81, size)) if size < 0x100 else bytes((tag, 0x82, size >> 8, size & 0xFF))) + content
    length = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(length))) + length + content


def _der_integer(value: int) -> bytes:
    """DER INTEGER of a non-negative ``value``."""
    return _tlv(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big"))


def _der_generalized_time(moment: datetime) -> bytes:
    """DER GeneralizedTime of an aware UTC datetime, as asn1crypto writes it (for years 1000 to 9999)."""
    # not strftime, which consults the time zone and the C library on every call
    text = f"{moment.year:04}{moment.month:02}{moment.day:02}{moment.hour:02}{moment.minute:02}{moment.second:02}"
    if moment.microsecond:
        text += "." + f"{moment.microsecond:06d}".rstrip("0")
    return _tlv(0x18, text.encode("ascii") + b"Z")


_V1 = core.Integer(1).dump()
_GRANTED = tsp.PKIStatusInfo({"status": "granted"}).dump()
_OID_TST_INFO = cms.ContentType("tst_info").dump()
_OID_SIGNED_DATA = cms.ContentType("signed_data").dump()
_OID_TST_INFO_CONTENTS = cms.ContentType("tst_info").contents
_OID_SIGNED_DATA_CONTENTS = cms.ContentType("signed_data").contents
#: DER AlgorithmIdentifier of each imprint algorithm, as in a MessageImprint.
_IMPRINT_ALGORITHMS = {name: algos.DigestAlgorithm({"algorithm": name}).dump() for name in _DIGEST_SIZES}
#: The contents of each imprint algorithm's OBJECT IDENTIFIER.
_IMPRINT_ALGORITHM_IDS = {name: algos.DigestAlgorithmId(name).contents for name in _DIGEST_SIZES}


def _rejection(failure: str, text: str) -> bytes:
    status = {"status": "rejection", "status_string": [text], "fail_info": tsp.PKIFailureInfo({failure})}
    return _TimeStampResp({"status": status}).dump()
