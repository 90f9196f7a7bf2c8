"""Spyne types mirroring the data contracts of the MSign WSDL.

Member order, ``min_occurs`` and ``nillable`` follow the real service's
``?singleWsdl`` exactly. ``emit_default=False`` marks the members WCF declares
with ``EmitDefaultValue=false``: omitted from responses when null or default.
Members without it are written as ``i:nil="true"`` when null.
"""

from __future__ import annotations

from spyne import Array, Boolean, ByteArray, ComplexModel, DateTime, Enum, Integer32, Unicode

from ..constants import TNS

__all__ = [
    "ContentType",
    "DelegatorType",
    "ExpectedSigner",
    "SignContent",
    "SignRequest",
    "SignResponse",
    "SignResult",
    "SignStatus",
    "VerificationCertificate",
    "VerificationContent",
    "VerificationRequest",
    "VerificationResponse",
    "VerificationResult",
    "enumeration_values",
]

# The occurrence kinds of the WSDL (see msign-contract.md §2.4).
#: IsRequired=true reference member: minOccurs=1, nillable.
REQ = {"min_occurs": 1, "nillable": True}
#: IsRequired=true value member (enum, bool): minOccurs=1, not nillable.
REQ_VALUE = {"min_occurs": 1, "nillable": False}
#: Optional member written as i:nil when null.
OPT = {"min_occurs": 0, "nillable": True}
#: Optional member with EmitDefaultValue=false.
OPT_EDV = {"min_occurs": 0, "nillable": True, "emit_default": False}
#: Optional value member with EmitDefaultValue=false.
OPT_EDV_VALUE = {"min_occurs": 0, "nillable": False, "emit_default": False}

ContentType = Enum("Hash", "Pdf", type_name="ContentType", __namespace__=TNS)
DelegatorType = Enum("None", "Person", "Organization", type_name="DelegatorType", __namespace__=TNS)
SignStatus = Enum("Pending", "Success", "Failure", "Expired", type_name="SignStatus", __namespace__=TNS)

#: Enums whose members carry explicit DataContract values in the WSDL.
enumeration_values = {"ContentType": {"Hash": 1, "Pdf": 2}}

String = Unicode
Int = Integer32


class _Contract(ComplexModel):
    __namespace__ = TNS


class SignContent(_Contract):
    _type_info = [
        ("Content", ByteArray(**REQ)),
        ("CorrelationID", String(**OPT_EDV)),
        ("MultipleSignatures", Boolean(**OPT_EDV_VALUE)),
        ("Name", String(**OPT)),
    ]


class ExpectedSigner(_Contract):
    _type_info = [
        ("DelegatedRoleID", Int(**OPT_EDV_VALUE)),
        ("DelegatorID", String(**OPT_EDV)),
        ("DelegatorType", DelegatorType(**OPT_EDV_VALUE)),
        ("ID", String(**REQ)),
    ]


class SignRequest(_Contract):
    _type_info = [
        ("ContentDescription", String(**OPT_EDV)),
        ("ContentType", ContentType(**REQ_VALUE)),
        ("Contents", Array(SignContent, type_name="ArrayOfSignContent").customize(**REQ)),
        ("ExpectedSigner", ExpectedSigner.customize(**OPT_EDV)),
        ("ShortContentDescription", String(**REQ)),
        ("SignatureReason", String(**OPT_EDV)),
    ]


class SignResult(_Contract):
    _type_info = [
        ("Certificate", ByteArray(**OPT_EDV)),
        ("CorrelationID", String(**OPT_EDV)),
        ("Signature", ByteArray(**OPT_EDV)),
    ]


class SignResponse(_Contract):
    _type_info = [
        ("Message", String(**OPT)),
        ("Results", Array(SignResult, type_name="ArrayOfSignResult").customize(**REQ)),
        ("Status", SignStatus(**REQ_VALUE)),
    ]


class VerificationContent(_Contract):
    _type_info = [
        ("Content", ByteArray(**OPT_EDV)),
        ("CorrelationID", String(**OPT_EDV)),
        ("Signature", ByteArray(**REQ)),
    ]


class VerificationRequest(_Contract):
    _type_info = [
        ("Contents", Array(VerificationContent, type_name="ArrayOfVerificationContent").customize(**REQ)),
        ("Language", String(**OPT_EDV)),
        ("SignedContentType", ContentType(**REQ_VALUE)),
    ]


class VerificationCertificate(_Contract):
    _type_info = [
        ("Certificate", ByteArray(**REQ)),
        ("SignatureValid", Boolean(**REQ_VALUE)),
        ("SignedAt", DateTime(**OPT_EDV)),
        ("Subject", String(**REQ)),
    ]


class VerificationResult(_Contract):
    _type_info = [
        (
            "Certificates",
            Array(VerificationCertificate, type_name="ArrayOfVerificationCertificate").customize(**OPT_EDV),
        ),
        ("CorrelationID", String(**OPT_EDV)),
        ("Message", String(**REQ)),
        ("SignaturesValid", Boolean(**REQ_VALUE)),
    ]


class VerificationResponse(_Contract):
    _type_info = [
        ("Results", Array(VerificationResult, type_name="ArrayOfVerificationResult").customize(**REQ)),
    ]
