"""Validation of a posted SignRequest against the contract's rules.

Every rule is checked before anything is stored; the first broken rule is
reported as :class:`~msign_soap.errors.InvalidParameter` naming the field, as
``Contents[2].CorrelationID is longer than 36 characters``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from ..errors import InvalidDocument, InvalidParameter
from ..signing.pades import count_signatures
from .identifiers import is_valid_idn
from .model import ContentType, DelegatorType, ExpectedSigner, SignContentInput, SignRequestInput

__all__ = ["Limits", "ValidContent", "ValidRequest", "validate_sign_request"]

log = logging.getLogger(__name__)

#: Maximum lengths in characters, as the contract documents them.
MAX_CONTENT_DESCRIPTION = 512
MAX_SHORT_CONTENT_DESCRIPTION = 90
MAX_SIGNATURE_REASON = 255
MAX_NAME = 256
MAX_CORRELATION_ID = 36
#: Accepted hash lengths: SHA-1 (the contract) and SHA-256 (our extension).
HASH_LENGTHS = {20: "SHA-1", 32: "SHA-256"}


@dataclass(frozen=True)
class Limits:
    """Configurable size limits of one request."""

    max_contents: int
    max_content_bytes: int
    max_total_content_bytes: int


@dataclass(frozen=True)
class ValidContent:
    content: bytes
    correlation_id: str | None
    multiple_signatures: bool
    name: str | None


@dataclass(frozen=True)
class ValidRequest:
    content_type: ContentType
    contents: list[ValidContent]
    short_content_description: str
    content_description: str | None
    signature_reason: str | None
    expected_signer: ExpectedSigner | None
    delegator_type: DelegatorType


def _check_length(field: str, value: str | None, maximum: int) -> None:
    if value is not None and len(value) > maximum:
        raise InvalidParameter(field, f"is longer than {maximum} characters ({len(value)})")


def _check_pdf(field: str, data: bytes, multiple_signatures: bool) -> None:
    if b"%PDF-" not in data[:1024]:
        raise InvalidParameter(field, "is not a PDF document (no %PDF- header)")
    if b"%%EOF" not in data[-1024:]:
        raise InvalidParameter(field, "is not a complete PDF document (no %%EOF trailer)")
    try:
        signatures = count_signatures(data)
    except InvalidDocument as e:
        log.debug("rejected PDF in %s: %s", field, e.reason)
        raise InvalidParameter(field, "is not a readable PDF document") from e
    if signatures and not multiple_signatures:
        raise InvalidParameter(
            field, f"is already signed ({signatures} signature(s)); set MultipleSignatures to true to co-sign it"
        )


def _validate_content(
    index: int, item: SignContentInput | None, content_type: ContentType, limits: Limits
) -> ValidContent:
    where = f"Contents[{index}]"
    if item is None:
        raise InvalidParameter(where, "is nil; every SignContent is required")
    if item.content is None:
        raise InvalidParameter(f"{where}.Content", "is required")
    _check_length(f"{where}.CorrelationID", item.correlation_id, MAX_CORRELATION_ID)
    _check_length(f"{where}.Name", item.name, MAX_NAME)
    size = len(item.content)
    if size > limits.max_content_bytes:
        raise InvalidParameter(
            f"{where}.Content", f"is larger than the limit of {limits.max_content_bytes} bytes ({size})"
        )
    if content_type is ContentType.HASH:
        if size not in HASH_LENGTHS:
            raise InvalidParameter(
                f"{where}.Content",
                f"must be a 20-byte SHA-1 hash (or a 32-byte SHA-256 hash), not {size} bytes",
            )
    else:
        _check_pdf(f"{where}.Content", item.content, bool(item.multiple_signatures))
    return ValidContent(
        content=item.content,
        correlation_id=item.correlation_id,
        multiple_signatures=bool(item.multiple_signatures),
        name=item.name,
    )


def _validate_signer(signer: ExpectedSigner, content_type: ContentType) -> DelegatorType:
    if signer.id is None or signer.id == "":
        if content_type is ContentType.HASH:
            raise InvalidParameter("ExpectedSigner.ID", "is required when ContentType is Hash")
    elif not is_valid_idn(signer.id):
        raise InvalidParameter("ExpectedSigner.ID", "is not a valid IDNP (13 digits with a valid check digit)")
    try:
        delegator_type = DelegatorType(signer.delegator_type or "None")
    except ValueError as e:
        raise InvalidParameter("ExpectedSigner.DelegatorType", "must be None, Person or Organization") from e
    if delegator_type is DelegatorType.NONE:
        if signer.delegator_id:
            raise InvalidParameter("ExpectedSigner.DelegatorID", "must be empty when DelegatorType is None")
    else:
        kind = "IDNP" if delegator_type is DelegatorType.PERSON else "IDNO"
        if not signer.delegator_id:
            raise InvalidParameter(
                "ExpectedSigner.DelegatorID", f"is required when DelegatorType is {delegator_type.value}"
            )
        if not is_valid_idn(signer.delegator_id):
            raise InvalidParameter(
                "ExpectedSigner.DelegatorID", f"is not a valid {kind} (13 digits with a valid check digit)"
            )
    if signer.delegated_role_id is not None and signer.delegated_role_id < 0:
        raise InvalidParameter("ExpectedSigner.DelegatedRoleID", "must not be negative")
    return delegator_type


def validate_sign_request(request: SignRequestInput | None, limits: Limits) -> ValidRequest:
    """Check every rule of the contract; return the request in normalized form.

    :raises InvalidParameter: naming the first offending field and rule.
    """
    if request is None:
        raise InvalidParameter("request", "is required")
    try:
        content_type = ContentType(request.content_type or "")
    except ValueError as e:
        raise InvalidParameter("ContentType", "must be Hash or Pdf") from e
    short = request.short_content_description
    if short is None or not short.strip():
        raise InvalidParameter("ShortContentDescription", "is required")
    _check_length("ShortContentDescription", short, MAX_SHORT_CONTENT_DESCRIPTION)
    _check_length("ContentDescription", request.content_description, MAX_CONTENT_DESCRIPTION)
    _check_length("SignatureReason", request.signature_reason, MAX_SIGNATURE_REASON)
    delegator_type = DelegatorType.NONE
    if request.expected_signer is not None:
        delegator_type = _validate_signer(request.expected_signer, content_type)
    if not request.contents:
        raise InvalidParameter("Contents", "must contain at least one SignContent")
    if len(request.contents) > limits.max_contents:
        raise InvalidParameter(
            "Contents", f"has {len(request.contents)} items; at most {limits.max_contents} are allowed"
        )
    total = sum(len(c.content) for c in request.contents if c is not None and c.content is not None)
    if total > limits.max_total_content_bytes:
        raise InvalidParameter(
            "Contents", f"total {total} bytes, over the limit of {limits.max_total_content_bytes} bytes"
        )
    contents = [_validate_content(i, c, content_type, limits) for i, c in enumerate(request.contents, 1)]
    seen: set[str] = set()
    for i, c in enumerate(contents, 1):
        if c.correlation_id is not None:
            if c.correlation_id in seen:
                raise InvalidParameter(
                    f"Contents[{i}].CorrelationID", f"{c.correlation_id!r} is not unique within the request"
                )
            seen.add(c.correlation_id)
    return ValidRequest(
        content_type=content_type,
        contents=contents,
        short_content_description=short,
        content_description=request.content_description,
        signature_reason=request.signature_reason,
        expected_signer=request.expected_signer,
        delegator_type=delegator_type,
    )
