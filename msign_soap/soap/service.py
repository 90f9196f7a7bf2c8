"""The IMSign service: unpack SOAP input, call the core, pack the output.

The docstrings of the operations are written for integrators.
"""

from __future__ import annotations

from typing import Any

from spyne import ServiceBase, Unicode, rpc

from ..core import ExpectedSigner as CoreExpectedSigner
from ..core import SignContentInput, SignRequestInput
from ..errors import NotAvailable
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
        return app.requests.post(consumer, _sign_request(request))

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
        response = app.requests.get(consumer, requestID, language)
        return t.SignResponse(
            Message=response.message,
            Results=None
            if response.results is None
            else [
                t.SignResult(Certificate=r.certificate, CorrelationID=r.correlation_id, Signature=r.signature)
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
        in ``Signature``; for ``Pdf`` give the signed PDF in ``Signature``.
        Verification can take a while: call it asynchronously.
        """
        ctx.app.authenticate(ctx, "VerifySignatures")
        raise NotAvailable(
            "VerifySignatures is not available on this server yet: signature verification "
            "has not been implemented, so no result is given rather than an unverified one"
        )
