"""Verification cost: VerifySignatures-equivalent verifications per second,
ours next to poppler's ``pdfsig`` on the same PDFs in the same run.

A demo PKI is generated for, and served by, a PKI server on 127.0.0.1 (OCSP,
CRLs, CA certificates), so that both sides can do the whole job:

- **ours**: :func:`msign_soap.verification.pades.verify_pdf` in this process,
  with (a) the embedded default's demo checker (the demo PKI's CRLs, built in
  process; no network) and (b) a :class:`~msign_soap.core.ChainChecker` in
  ``soft`` revocation mode that fetches OCSP responses and CRLs from the
  server, as production does;
- **pdfsig**: ``pdfsig -nssdir`` with the demo root trusted in an NSS database
  (``certutil``); it asks the server's OCSP responder about each signer. One
  process per document, as a caller of the tool pays it; ``pdfsig -nocert``
  (signatures only, no certificate checks) is shown for reference.

Documents: a one-page PDF signed once (PAdES B-T), the same padded to 1 MiB,
and one signed by five people. Medians of n runs after a warm-up. Goals:
ours <= 2x pdfsig's time; a PDF with five co-signatures verified in < 1 s.
Figures only; nothing passes or fails on time.

    python bench/verify.py [--rounds N]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import logging
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from msign_soap.pki import DemoPki, Identity

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

MiB = 1024 * 1024
#: Four demo people (Elena Ciobanu's certificate is revoked) and a fifth signer, Ana Lungu.
FOUR = ("2004001234567", "2001002345678", "2002003456787", "2005005678902")


def make_pdf(padding: int = 0) -> bytes:
    """A valid one-page PDF; ``padding`` bytes of hex digits in a comment of the page content."""
    from tests.conftest import minimal_pdf

    return minimal_pdf("Benchmark", padding)


def fifth_signer(pki: DemoPki) -> Identity:
    """A fifth signer from the demo issuing CA (pdfsig 22.12 reports the second
    signature of one certificate in a document as "Unknown issue")."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    from msign_soap.pki import CRL_PATHS, Identity
    from msign_soap.pki.generate import NOT_BEFORE

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    issuer = pki.issuing_ca
    crl = x509.DistributionPoint([x509.UniformResourceIdentifier(pki.url(CRL_PATHS["issuing"]))], None, None, None)
    name = [("Ana Lungu", NameOID.COMMON_NAME), ("2006006789012", NameOID.SERIAL_NUMBER), ("MD", NameOID.COUNTRY_NAME)]
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(oid, value) for value, oid in name]))
        .issuer_name(issuer.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOT_BEFORE)
        .not_valid_after(datetime.now(UTC).replace(year=datetime.now(UTC).year + 1))
        .add_extension(x509.KeyUsage(True, True, False, False, False, False, False, False, False), critical=True)
        .add_extension(x509.CRLDistributionPoints([crl]), critical=False)
        .sign(issuer.private_key, hashes.SHA256())  # type: ignore[arg-type]
    )
    return Identity("Ana Lungu", certificate, key, (issuer.certificate, *issuer.chain))


def medians(sides: dict[str, Callable[[], object]], rounds: int) -> dict[str, float]:
    """Median seconds of each side over ``rounds`` runs after a warm-up; the
    sides take turns (in a rotating order), so that a busy moment of the
    machine falls on all of them alike."""
    for fn in sides.values():
        fn()  # warm-up: imports, caches
    names = list(sides)
    times: dict[str, list[float]] = {name: [] for name in names}
    for n in range(rounds):
        for name in names[n % len(names) :] + names[: n % len(names)]:
            start = time.perf_counter()
            sides[name]()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def read_signature_dictionaries(pdf: bytes) -> None:
    """What pyHanko's reader spends on the signature dictionaries (their
    /Contents hex strings, read one character at a time)."""
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.fields import enumerate_sig_fields

    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    for _, value, _ in enumerate_sig_fields(reader, filled_status=True):
        value.get_object()


class Pdfsig:
    """pdfsig with the demo root trusted in a fresh NSS database."""

    def __init__(self, work: Path, root_der: bytes) -> None:
        self.work = work
        self.nss = work / "nssdb"
        self.nss.mkdir()
        (work / "root.der").write_bytes(root_der)
        for args in (["-N", "--empty-password"], ["-A", "-n", "root", "-t", "C,C,C", "-i", str(work / "root.der")]):
            subprocess.run(["certutil", "-d", f"sql:{self.nss}", *args], check=True, capture_output=True)
        self.env = {**os.environ, "HOME": str(work)}

    def run(self, path: Path, *, certificates: bool = True) -> str:
        options = ["-nssdir", f"sql:{self.nss}"] if certificates else ["-nocert"]
        done = subprocess.run(["pdfsig", *options, str(path)], capture_output=True, text=True, env=self.env)
        return done.stdout

    def verdicts(self, path: Path) -> list[str]:
        lines = self.run(path).splitlines()
        return [
            line.split(": ", 1)[1]
            for line in lines
            if "Signature Validation:" in line or "Certificate Validation:" in line
        ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20, help="timed runs per figure (default 20)")
    args = parser.parse_args()
    for tool in ("pdfsig", "certutil"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is needed (poppler-utils, libnss3-tools)")
    logging.disable(logging.CRITICAL)  # pyHanko logs every failed fetch attempt with a traceback

    from werkzeug.serving import make_server

    from msign_soap.app import demo_certificate_checker
    from msign_soap.core import ChainChecker
    from msign_soap.pki import create_pki_app, load_demo_pki
    from msign_soap.signing import LocalTsa
    from msign_soap.signing.pades import sign_pades_with_key
    from msign_soap.verification.pades import verify_pdf

    with tempfile.TemporaryDirectory(prefix="msign-bench-verify-") as tmp:
        work = Path(tmp)
        server = make_server("127.0.0.1", 0, lambda environ, start: [], threaded=True)
        url = f"http://127.0.0.1:{server.server_port}"
        pki = load_demo_pki(work / "pki", url)
        tsa = LocalTsa(pki.tsa.certificate, pki.tsa.private_key, pki.tsa.chain)
        server.app = create_pki_app(pki, tsa)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:

            def sign(pdf: bytes, signer: str | Identity) -> bytes:
                p = pki.people[signer] if isinstance(signer, str) else signer
                out = sign_pades_with_key(
                    pdf, p.certificate_der, p.chain_der, p.private_key, tsa, signing_time=datetime.now(UTC), reason="b"
                )
                return bytes(out)

            five = make_pdf()
            for signer in (*FOUR, fifth_signer(pki)):
                five = sign(five, signer)
            documents = {
                "1 signature, 1 page": sign(make_pdf(), "2004001234567"),
                "1 signature, 1 MiB": sign(make_pdf(MiB), "2004001234567"),
                "5 co-signatures": five,
            }
            demo = demo_certificate_checker(pki)
            fetching = ChainChecker(
                [pki.root.certificate],
                [pki.issuing_ca.certificate],
                revocation="soft",
                timeout=5,
                allow_private_addresses=True,  # the PKI server is on loopback
            )
            pdfsig = Pdfsig(work, pki.root.certificate_der)

            version = subprocess.run(["pdfsig", "-v"], capture_output=True, text=True).stderr.splitlines()[0]
            print(f"verify: medians of {args.rounds} interleaved runs; Python {sys.version.split()[0]}, {version}")
            print(
                "\nPAdES (verify_pdf) vs pdfsig, milliseconds per document; ratio = ours / pdfsig (goal <= 2);"
                "\n'parse': of ours, pyHanko reading the signature dictionaries"
            )
            header = (
                "document",
                "ours demo",
                "ours fetch",
                "parse",
                "pdfsig",
                "-nocert",
                "demo/pdfsig",
                "fetch/pdfsig",
            )
            widths = (22, 11, 12, 8, 9, 9, 13, 14)
            print("".join(f"{h:>{w}}" for h, w in zip(header, widths, strict=True)))
            results = {}
            for name, pdf in documents.items():
                path = work / f"{len(results)}.pdf"
                path.write_bytes(pdf)
                for trust in (demo, fetching):
                    report = verify_pdf(pdf, trust)
                    assert report.valid, (name, report)
                verdicts = pdfsig.verdicts(path)
                expected = ("Signature is Valid.", "Certificate is Trusted.")
                assert verdicts and all(v in expected for v in verdicts), (name, verdicts)
                m = results[name] = medians(
                    {
                        "demo": lambda pdf=pdf: verify_pdf(pdf, demo),
                        "fetch": lambda pdf=pdf: verify_pdf(pdf, fetching),
                        "parse": lambda pdf=pdf: read_signature_dictionaries(pdf),
                        "pdfsig": lambda path=path: pdfsig.run(path),
                        "nocert": lambda path=path: pdfsig.run(path, certificates=False),
                    },
                    args.rounds,
                )
                cells = (
                    name,
                    *(f"{m[k] * 1000:.1f}" for k in ("demo", "fetch", "parse", "pdfsig", "nocert")),
                    f"{m['demo'] / m['pdfsig']:.2f}x",
                    f"{m['fetch'] / m['pdfsig']:.2f}x",
                )
                print("".join(f"{c:>{w}}" for c, w in zip(cells, widths, strict=True)))
            single = results["1 signature, 1 page"]
            print(
                f"\nVerifySignatures-equivalent verifications per second (1 signature, 1 page): "
                f"ours {1 / single['demo']:.0f} (demo checker), {1 / single['fetch']:.0f} (fetching); "
                f"pdfsig {1 / single['pdfsig']:.0f}"
            )
            five_cosigned = results["5 co-signatures"]
            print(
                f"5 co-signatures: {five_cosigned['demo']:.3f} s (demo checker), "
                f"{five_cosigned['fetch']:.3f} s (fetching revocation data); goal < 1 s"
            )

            # --- XAdES (verify_xades) next to xmlsec1 --verify on the same signature -------------
            xades_figures(work, pki, tsa, demo, fetching, args.rounds)
        finally:
            server.shutdown()
            server.server_close()


def xades_figures(work: Path, pki: DemoPki, tsa: object, demo: object, fetching: object, rounds: int) -> None:
    """XAdES-T over a SHA-1 hash: ours (demo checker, fetching) vs ``xmlsec1
    --verify`` (signature, references and the chain to the demo root; no
    revocation, no time-stamp), one process per document as for pdfsig."""
    from cryptography.hazmat.primitives.serialization import Encoding

    from msign_soap.signing.xades import sign_xades_with_key
    from msign_soap.verification.xades import verify_xades

    document = b"Contract no. 17"
    digest = hashlib.sha1(document).digest()
    ion = pki.people["2004001234567"]
    uri = "urn:msign:content:bench"
    xades = sign_xades_with_key(
        digest, ion.certificate_der, ion.chain_der, ion.private_key, tsa,  # type: ignore[arg-type]
        signing_time=datetime.now(UTC), reference_uri=uri,
    )  # fmt: skip
    for trust in (demo, fetching):
        assert verify_xades(xades, digest, trust).valid  # type: ignore[arg-type]
    (work / "signature.xml").write_bytes(xades)
    (work / "document.bin").write_bytes(document)
    (work / "root.pem").write_bytes(pki.root.certificate.public_bytes(Encoding.PEM))
    xmlsec1 = shutil.which("xmlsec1")
    command = [
        "xmlsec1", "--verify", "--trusted-pem", str(work / "root.pem"),
        f"--url-map:{uri}", str(work / "document.bin"),
        "--id-attr:Id", "http://uri.etsi.org/01903/v1.3.2#:SignedProperties",
        "--enabled-reference-uris", "same-doc,remote", str(work / "signature.xml"),
    ]  # fmt: skip
    sides: dict[str, Callable[[], object]] = {
        "demo": lambda: verify_xades(xades, digest, demo),  # type: ignore[arg-type]
        "fetch": lambda: verify_xades(xades, digest, fetching),  # type: ignore[arg-type]
    }
    if xmlsec1:
        assert subprocess.run(command, capture_output=True).returncode == 0
        sides["xmlsec1"] = lambda: subprocess.run(command, capture_output=True, check=True)
    m = medians(sides, rounds)
    print("\nXAdES-T (verify_xades) vs xmlsec1 --verify, milliseconds per signature")
    line = f"  ours demo {m['demo'] * 1000:.1f}, ours fetch {m['fetch'] * 1000:.1f}"
    if "xmlsec1" in m:
        line += f", xmlsec1 {m['xmlsec1'] * 1000:.1f} (demo/xmlsec1 {m['demo'] / m['xmlsec1']:.2f}x)"
    print(line)
    rates = f"ours {1 / m['demo']:.0f} (demo), {1 / m['fetch']:.0f} (fetching)"
    print(f"  VerifySignatures-equivalent (Hash) per second: {rates}")


if __name__ == "__main__":
    main()
