"""Have a document's hash signed through msign-soap, from Python with zeep.

With the service running (``./scripts/serve``)::

    pip install zeep
    python zeep_client.py [http://127.0.0.1:8080]

It posts the SHA-1 hash of a document for the demo person Ion Popescu,
prints the sign page's address and waits for the browser to come back to
the ReturnUrl — a small HTTP server on 127.0.0.1 standing in for the
e-service's page. Open the address, choose *securesign*, sign with IDNP
2004001234567 and PIN 4567. It then fetches the signature (a detached
XAdES-T over the hash) and has the service verify it.
"""

from __future__ import annotations

import hashlib
import http.server
import sys
import urllib.parse
import uuid

import zeep

SERVICE = sys.argv[1].rstrip("/") if len(sys.argv) > 1 else "http://127.0.0.1:8080"
SIGNER_IDNP = "2004001234567"  # Ion Popescu, a demo person of the embedded default

document = b"Contract no. 12: the buyer pays 1000 MDL."
digest = hashlib.sha1(document).digest()  # the contract's hash; SHA-256 (32 bytes) works too

# 1. Post the request: the WSDL's address is the URL it was fetched from.
client = zeep.Client(f"{SERVICE}/MSign.svc?singleWsdl")
request_id = client.service.PostSignRequest(
    request={
        "ContentType": "Hash",
        "Contents": {"SignContent": [{"Content": digest, "CorrelationID": uuid.uuid4().hex, "Name": "contract.txt"}]},
        "ShortContentDescription": "Contract no. 12",
        "ContentDescription": "Sale contract no. 12 between Ion Popescu and the e-service",
        "ExpectedSigner": {"ID": SIGNER_IDNP},
    }
)


# 2. Send the user's browser to the sign page; it comes back with a POST to ReturnUrl.
callbacks: list[str] = []  # the RequestIDs the browser came back with


class ReturnPage(http.server.BaseHTTPRequestHandler):
    """The e-service's ReturnUrl: the sign page posts RequestID and RelayState here."""

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        length = int(self.headers.get("Content-Length", 0))
        form = urllib.parse.parse_qs(self.rfile.read(length).decode())
        callbacks.append(form.get("RequestID", [""])[0])
        body = b"<!doctype html><title>Signed</title><p>Thank you. You may close this page."
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - http.server's name
        pass


return_page = http.server.HTTPServer(("127.0.0.1", 0), ReturnPage)
return_url = f"http://127.0.0.1:{return_page.server_port}/signed"
entry = urllib.parse.urlencode({"ReturnUrl": return_url, "RelayState": "contract-12", "lang": "en"})
print(f"Open {SERVICE}/{request_id}?{entry}", flush=True)
while request_id not in callbacks:  # a callback names the request it is about
    return_page.handle_request()
return_page.server_close()

# 3. Fetch the outcome: Success, Failure (Message says why) or Expired.
response = client.service.GetSignResponse(requestID=request_id, language="en")
print("Status:", response.Status)
if response.Status != "Success":
    print("Message:", response.Message)
    sys.exit(1)
[result] = response.Results.SignResult
print(f"XAdES signature: {len(result.Signature)} bytes, CorrelationID {result.CorrelationID}")

# 4. Verify it, as anyone holding the document and the signature may.
[verified] = client.service.VerifySignatures(
    request={
        "SignedContentType": "Hash",
        "Contents": {"VerificationContent": [{"Content": digest, "Signature": result.Signature}]},
        "Language": "en",
    }
).VerificationResult  # zeep unwraps VerificationResponse, whose only member is Results
print("Valid:", verified.SignaturesValid, "-", verified.Message)
for certificate in verified.Certificates.VerificationCertificate:
    print("Signed by", certificate.Subject, "at", certificate.SignedAt)
