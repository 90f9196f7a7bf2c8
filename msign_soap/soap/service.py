"""The IMSign service: unpack SOAP input, call the core, pack the output.

The docstrings of the operations are written for integrators.
"""

from __future__ import annotations

import re
from types import SimpleNamespace
from typing import Any

from spyne import ServiceBase, Unicode, rpc

from ..constants import client_address
from ..core import ExpectedSigner as CoreExpectedSigner
from ..core import SignContentInput, SignRequestInput
from ..core.audit_events import Event
from ..errors import NotAvailable
from ..observability import annotate_request_id
from ..verification.batch import VerificationItem, verify_batch
from . import types as t

__all__ = ["MSignService"]

_OPTIONAL = {"min_occurs": 0, "nillable": True}


def _sign_request(request: Any) -> SignRequestInput | None:
    """The core's input from the request as :func:`~.wcf.read_members` reads it."""
    if request is None:
        return None
    signer = request.ExpectedSigner
    return SignRequestInput(
        content_type=request.ContentType,
        contents=None
        if request.Contents is None
        else [
            None
            if c is None
            else SignContentInput(
                content=c.Content,
                correlation_id=c.CorrelationID,
                multiple_signatures=c.MultipleSignatures,
                name=c.Name,
            )
            for c in request.Contents
        ],
        short_content_description=request.ShortContentDescription,
        content_description=request.ContentDescription,
        signature_reason=request.SignatureReason,
        expected_signer=None
        if signer is None
        else CoreExpectedSigner(
            id=signer.ID,
            delegator_type=signer.DelegatorType,
            delegator_id=signer.DelegatorID,
            delegated_role_id=signer.DelegatedRoleID,
        ),
    )


#: VerificationCertificate.Subject's documented maximum length.
MAX_SUBJECT = 250
# What XML 1.0 cannot carry: a certificate may hold it in a name.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _display_subject(subject: str | None) -> str | None:
    """A signer's subject as the answer can carry it: characters XML cannot
    hold replaced by U+FFFD, cut to :data:`MAX_SUBJECT` characters."""
    if subject is None:
        return None
    text = _NOT_XML.sub("\ufffd", subject)
    return text if len(text) <= MAX_SUBJECT else text[: MAX_SUBJECT - 1] + "…"


class MSignService(ServiceBase):
    """MSign: sign batches of hashes and PDF documents, and verify signatures."""

    __service_name__ = "MSignService"
    __port_types__ = ["IMSign"]

    @rpc(
        t.SignRequest.customize(**_OPTIONAL),
        _returns=Unicode(**_OPTIONAL),
        _in_variable_names={"request": "request"},
        _out_variable_name="PostSignRequestResult",
        _port_type="IMSign",
    )
    def PostSignRequest(ctx, request):  # noqa: N802,N805 -- contract names
        """Post a batch of contents to be signed by a user.

        Returns the RequestID; send the user's browser to ``/{RequestID}`` with a
        ``ReturnUrl`` and fetch the signatures with GetSignResponse afterwards.
        ``Hash`` contents are 20-byte SHA-1 hashes (32-byte SHA-256 is accepted
        as an extension); ``Pdf`` contents are whole PDF documents. Every
        parameter is validated before anything is stored: a broken rule is an
        ``InvalidParameter`` fault naming the field.
        """
        app = ctx.app
        consumer = app.authenticate(ctx, "PostSignRequest")
        request_id = app.requests.post(consumer, _sign_request(request), address=client_address(ctx.transport.req_env))
        annotate_request_id(request_id)
        return request_id

    @rpc(
        Unicode(**_OPTIONAL),
        Unicode(**_OPTIONAL),
        _returns=t.SignResponse.customize(**_OPTIONAL),
        _in_variable_names={"requestID": "requestID", "language": "language"},
        _out_variable_name="GetSignResponseResult",
        _port_type="IMSign",
    )
    def GetSignResponse(ctx, requestID, language):  # noqa: N802,N803,N805
        """Get the status of a sign request and, once finished, its signatures.

        ``Status`` is ``Pending``, ``Success``, ``Failure`` or ``Expired``.
        ``Results`` (one per content, in posted order, with the CorrelationID)
        is nil while Pending; on Success each carries the signer's
        ``Certificate`` and the ``Signature`` (XAdES for Hash, the signed PDF
        for Pdf). ``Message`` explains Failure and Expired in ``language``
        (``ro`` default, ``ru``, ``en``). Unknown or purged IDs give
        ``RequestNotFound``; another consumer's request ``AuthorizationFailed``.
        """
        app = ctx.app
        consumer = app.authenticate(ctx, "GetSignResponse")
        annotate_request_id(requestID)
        response = app.requests.get(consumer, requestID, language, address=client_address(ctx.transport.req_env))
        # A t.SignResponse of t.SignResults as plain records: the WCF writer
        # reads attributes, and Spyne's constructors cost a fifth of this call.
        return SimpleNamespace(
            Message=response.message,
            Results=None
            if response.results is None
            else [
                SimpleNamespace(Certificate=r.certificate, CorrelationID=r.correlation_id, Signature=r.signature)
                for r in response.results
            ],
            Status=response.status.value,
        )

    @rpc(
        t.VerificationRequest.customize(**_OPTIONAL),
        _returns=t.VerificationResponse.customize(**_OPTIONAL),
        _in_variable_names={"request": "request"},
        _out_variable_name="VerifySignaturesResult",
        _port_type="IMSign",
    )
    def VerifySignatures(ctx, request):  # noqa: N802,N805
        """Verify XAdES signatures of hashes or PAdES signatures of PDF documents.

        For ``Hash`` give the original hash in ``Content`` and the XAdES document
        in ``Signature``; for ``Pdf`` give the signed PDF in ``Signature``. One
        result per content, in order, with its CorrelationID: ``SignaturesValid``
        is true only if the content has signatures and every one is valid
        (integrity, a chain to a trusted authority, not revoked at signing
        time, a valid timestamp); ``Certificates`` lists the signers, with
        ``SignedAt`` when a valid timestamp proves the time; ``Message`` says
        why in ``Language`` (``ro`` default, ``ru``, ``en``). A bad item gets
        an invalid result; only a structurally broken request is an
        ``InvalidParameter`` fault. Verification can take a while: call it
        asynchronously.
        """
        app = ctx.app
        consumer = app.authenticate(ctx, "VerifySignatures")
        if app.trust is None:
            raise NotAvailable(
                "VerifySignatures is not available on this server: no trust anchors are configured "
                "(trust_anchors), so no result is given rather than an unverified one"
            )
        items = (
            None
            if request is None or request.Contents is None
            else [
                None if c is None else VerificationItem(c.Content, c.CorrelationID, c.Signature)
                for c in request.Contents
            ]
        )
        outcomes = verify_batch(
            None if request is None else request.SignedContentType,
            items,
            app.trust,
            None if request is None else request.Language,
            max_contents=app.requests.config.max_contents,
        )
        for outcome in outcomes:
            app.requests.metrics.verification(request.SignedContentType, outcome.valid)
        app.requests.audit.record(
            Event.VERIFICATION_CALLED,
            consumer=consumer.name,
            address=client_address(ctx.transport.req_env),
            detail={
                "content_type": request.SignedContentType,
                "contents": len(outcomes),
                "valid": sum(o.valid for o in outcomes),
            },
        )
        return t.VerificationResponse(
            Results=[
                t.VerificationResult(
                    Certificates=[
                        t.VerificationCertificate(
                            Certificate=s.certificate,
                            SignatureValid=s.valid,
                            SignedAt=s.signed_at,
                            Subject=_display_subject(s.subject),
                        )
                        for s in o.report.signatures
                        if s.certificate is not None
                    ]
                    or None,
                    CorrelationID=o.correlation_id,
                    Message=o.message,
                    SignaturesValid=o.valid,
                )
                for o in outcomes
            ]
        )
