"""Plain data of the sign-request lifecycle, free of SOAP and storage types."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

__all__ = [
    "ContentType",
    "DelegatorType",
    "ExpectedSigner",
    "SignContentInput",
    "SignRequestInput",
    "SignResponse",
    "SignResultOutput",
    "SignStatus",
]


class ContentType(enum.StrEnum):
    HASH = "Hash"
    PDF = "Pdf"


class DelegatorType(enum.StrEnum):
    NONE = "None"
    PERSON = "Person"
    ORGANIZATION = "Organization"


class SignStatus(enum.StrEnum):
    PENDING = "Pending"
    SUCCESS = "Success"
    FAILURE = "Failure"
    EXPIRED = "Expired"

    @property
    def finished(self) -> bool:
        return self is not SignStatus.PENDING


@dataclass(frozen=True)
class ExpectedSigner:
    id: str | None
    delegator_type: str | None = None
    delegator_id: str | None = None
    delegated_role_id: int | None = None


@dataclass(frozen=True)
class SignContentInput:
    content: bytes | None
    correlation_id: str | None = None
    multiple_signatures: bool | None = None
    name: str | None = None


@dataclass(frozen=True)
class SignRequestInput:
    """A SignRequest as posted; nothing is validated yet (``None`` = nil/absent)."""

    content_type: str | None
    contents: list[SignContentInput | None] | None
    short_content_description: str | None
    content_description: str | None = None
    expected_signer: ExpectedSigner | None = None
    signature_reason: str | None = None


@dataclass(frozen=True)
class SignResultOutput:
    correlation_id: str | None
    certificate: bytes | None = None
    signature: bytes | None = None


@dataclass(frozen=True)
class SignResponse:
    status: SignStatus
    message: str | None = None
    results: list[SignResultOutput] | None = field(default=None)
