"""A demo e-service for msign-soap: a small WSGI application that signs
through the public MSign contract only — SOAP through zeep with the WSDL the
service publishes, the sign page's redirect and its callback POST — as any
integrating e-service would (``reference/msign-contract.md`` §2, §3).

It uploads PDFs or hashes typed texts (SHA-1, the contract's ``Hash``
contents), posts them with ``PostSignRequest``, sends the browser to the sign
page, takes the callback, fetches the signatures with ``GetSignResponse``,
shows each signer (the certificate's subject) and time, offers the signed
PDFs and the XAdES signatures for download, and verifies them, or altered
copies of them, with ``VerifySignatures``. Long operations (fetching a large
batch, verifying it one content at a time) run in the background behind a
progress page. Its state is one JSON file per request under its state
directory (:mod:`.store`).

The agency's integration test cases (§6) as features of the app:

=============  =====================================================================
TC_FUNCT_01    "Sign" posts the request and opens the sign page; after signing with
               any instrument the browser comes back to ``/return`` and the request's
               page shows each signature: signer, time, download of the signed PDF
               or the XAdES.
TC_FUNCT_02    Cancelling on the sign page comes back the same way; the request's
               page shows ``Failure`` and the service's message (an expired request
               likewise shows ``Expired``, from the callback or "Check the status
               again").
TC_FUNCT_03    A pending request's page has "Continue signing", which opens the sign
               page again for the same RequestID and RelayState.
TC_FUNCT_04    Invalid data — an ExpectedSigner IDNP the service refuses
               (``InvalidParameter``), a malformed MSISDN the demo refuses, a file
               that is not a PDF — shows the form again with the reason; the browser
               is not sent to the sign page.
TC_FUNCT_05    "Verify" verifies every stored signature (with the original hash for
               Hash) and shows "Valid", the service's message and the signers.
TC_FUNCT_06    "Verify an altered copy" verifies each signed PDF with one signed byte
               flipped, or each XAdES against another hash, and shows "Not valid".
=============  =====================================================================

A separate application: it imports nothing from ``msign_soap`` (and
``msign_soap`` nothing from it but by module name, where the embedded
default mounts it with :func:`mountable`), so it stands for an e-service
that reaches the signing service only over HTTP. Left out: localisation (it
is in English; the sign page's language is chosen on the form) and client
certificates (a production MSign wants mutual TLS from every consumer; the
embedded default's demo consumer answers plain HTTP).
"""

from .app import DEMO_PREFIX, DemoEService, create_demo, mountable
from .client import MSignClient
from .errors import BadInput, DemoError, NotFound, ServiceFault, ServiceUnreachable

__all__ = [
    "DEMO_PREFIX",
    "BadInput",
    "DemoEService",
    "DemoError",
    "MSignClient",
    "NotFound",
    "ServiceFault",
    "ServiceUnreachable",
    "create_demo",
    "mountable",
]
