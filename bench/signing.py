"""Signing cost: PAdES against bare pyHanko and one SHA-256 pass, XAdES-T against raw RSA.

All sides use the same demo person's key and the same in-process TSA
(:class:`LocalTsa`; pyHanko reaches it through a ``TimeStamper`` adapter):

1. PAdES B-T of 1/10/50 MiB PDFs (incompressible padding in a content stream):
   the service path (``prepare_pades`` + RSA over the signed attributes +
   ``finish_pades``) vs ``pyhanko.sign.signers.sign_pdf`` vs ``hashlib.sha256``.
   Medians after a warm-up; service and pyHanko alternate which goes first.
   Goal service/pyHanko <= 1.3x.
2. Peak memory of the signing functions as a multiple of the file size. Goal <= 3x.
3. End to end through SOAP (werkzeug test client, no HTTP), for information,
   with the peak memory of the sign stage alone: from the stored input to the
   stored output, through the database. Goal <= 3x.
4. XAdES-T signatures per second vs raw RSA-2048 signatures per second with the
   same key, taking turns of 50 ms so that both meet the same load on a shared
   machine. Goal >= 0.4x (each XAdES-T costs two private-key operations).

Figures and ratios only; nothing passes or fails on time.

    python bench/signing.py [--sizes 1,10,50] [--quick] [--parts 1,2,3,4] [--rounds N]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import multiprocessing as mp
import os
import platform
import statistics
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

from _soap_roundtrip import SoapRoundTrip, reset_peak_rss, rss  # bench/, beside this file

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.conftest

MiB = 1024 * 1024
PKI_URL = "http://127.0.0.1:8080"  # create_app's default base URL: no mismatch warning
NOW = datetime.now(UTC).replace(microsecond=0)
_NO_EOL = bytes(0x20 if b in b"\r\n" else b for b in range(256))


def make_pdf(size: int) -> bytes:
    """A valid one-page PDF of ``size`` bytes and more, with a correct xref table; its
    content stream ends in a comment of random bytes (CR and LF excluded)."""
    from tests.conftest import build_pdf

    stream = b"BT /F1 24 Tf 72 720 Td (Benchmark) Tj ET\n%" + os.urandom(size).translate(_NO_EOL) + b"\n"
    return build_pdf(
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    )


class Signing:
    """The demo person (Ion Popescu), the in-process TSA, and the signing paths."""

    def __init__(self, pki_dir: str) -> None:
        from asn1crypto import keys, tsp
        from asn1crypto import x509 as asn1_x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import padding
        from pyhanko.sign import signers
        from pyhanko.sign.timestamps import TimeStamper
        from pyhanko_certvalidator.registry import SimpleCertificateStore

        from msign_soap.pki import load_demo_pki
        from msign_soap.signing.timestamp import LocalTsa

        pki = load_demo_pki(pki_dir, PKI_URL)
        self.person = person = pki.people["2004001234567"]
        self.tsa = tsa = LocalTsa(pki.tsa.certificate, pki.tsa.private_key, pki.tsa.chain)
        self.rsa = sign = lambda data: person.private_key.sign(data, padding.PKCS1v15(), hashes.SHA256())

        class LocalTsaStamper(TimeStamper):  # pyHanko's RFC 3161 client, our TSA's answers
            async def async_request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
                return tsp.TimeStampResp.load(tsa.respond(req.dump()))

        class PreloadedSigner(signers.SimpleSigner):  # SimpleSigner re-reads its key on every signature
            def sign_raw(self, data: bytes, digest_algorithm: str) -> bytes:
                return sign(data)

        self.stamper = LocalTsaStamper()
        key = person.private_key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        args = {
            "signing_cert": asn1_x509.Certificate.load(person.certificate_der),
            "signing_key": keys.PrivateKeyInfo.load(key),
            "cert_registry": SimpleCertificateStore.from_certs(
                [asn1_x509.Certificate.load(c) for c in person.chain_der]
            ),
        }
        self.pyhanko_signer, self.stock_signer = PreloadedSigner(**args), signers.SimpleSigner(**args)

    def service(self, pdf: bytes) -> bytes:
        from msign_soap.signing.pades import finish_pades, prepare_pades

        p = self.person
        draft, prepared = prepare_pades(pdf, p.certificate_der, p.chain_der, signing_time=NOW, reason="Benchmark")
        return finish_pades(draft, prepared, self.rsa(draft.data_to_be_signed), self.tsa)

    def pyhanko(self, pdf: bytes, signer: object = None) -> bytes:
        from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
        from pyhanko.sign import fields, signers

        meta = signers.PdfSignatureMetadata(
            field_name="Signature1", md_algorithm="sha256", subfilter=fields.SigSeedSubFilter.PADES, reason="Benchmark"
        )
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
        return signers.sign_pdf(writer, meta, signer=signer or self.pyhanko_signer, timestamper=self.stamper).getvalue()

    def stock(self, pdf: bytes) -> bytes:
        return self.pyhanko(pdf, self.stock_signer)


def row(widths: tuple[int, ...], *cells: object, then: str = "") -> None:
    print("".join(f"{cell:>{width}}" for width, cell in zip(widths, cells, strict=True)) + then)


def seconds(fn, *args) -> float:
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def _child(kind: str, pki_dir: str, pdf_path: str, queue: mp.Queue) -> None:
    """In a fresh process: warm up, then one run from the stored input to the stored output."""
    import logging

    logging.disable(logging.CRITICAL)
    s = Signing(pki_dir)
    with tempfile.TemporaryDirectory(prefix="msign-bench-") as data_dir:
        soap = SoapRoundTrip(s.person, pki_dir, Path(data_dir)) if kind == "soap" else None
        flow = soap.run if soap else getattr(s, kind)
        flow(make_pdf(64 * 1024))  # imports, caches, Spyne's first request
        if soap:  # the client's request body is in hand before the clock starts
            body = soap.post_body(Path(pdf_path).read_bytes())
            base = reset_peak_rss()
            stages = soap.run(None, body)
            total = sum(stages[k] for k in ("post", "sign", "get"))  # without the collections between them
            peak = max(v for k, v in stages.items() if k.endswith(" peak"))
        else:
            base, start, stages = reset_peak_rss(), time.perf_counter(), {}
            Path(pdf_path + ".signed").write_bytes(flow(Path(pdf_path).read_bytes()))
            total, peak = time.perf_counter() - start, rss()
        queue.put((total, (peak - base) / os.path.getsize(pdf_path), stages))
        if soap:
            soap.service.close()


def in_fresh_process(kind: str, pki_dir: str, pdf_path: str) -> tuple[float, float, dict]:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    process = ctx.Process(target=_child, args=(kind, pki_dir, pdf_path, queue))
    process.start()
    result = queue.get(timeout=900)
    process.join()
    return result


def bench_pades(s: Signing, sizes: list[float], runs: dict[float, int], work: Path) -> dict[float, bytes]:
    print("\n1. PAdES B-T, median seconds of n runs after a warm-up; same key, same in-process TSA")
    widths = (8, 3, 9, 9, 8, 13, 6, 12, 22)
    row(
        widths, "size", "n", "service", "pyHanko", "sha256", "svc/pyHanko", "goal", "svc/sha256", "stock SimpleSigner s"
    )
    pdfs = {}
    for size in sizes:
        pdf = pdfs[size] = make_pdf(int(size * MiB))
        (work / f"{size}.pdf").write_bytes(pdf)
        sides = {"service": s.service, "pyhanko": s.pyhanko, "stock": s.stock}
        for fn in sides.values():
            fn(pdf)  # warm-up
        times: dict[str, list[float]] = {name: [] for name in [*sides, "sha"]}
        for n in range(runs[size]):
            for name in list(sides) if n % 2 == 0 else list(sides)[::-1]:
                times[name].append(seconds(sides[name], pdf))
            times["sha"].append(seconds(lambda d: hashlib.sha256(d).digest(), pdf))
        svc, bare, sha, stock = (statistics.median(times[k]) for k in ("service", "pyhanko", "sha", "stock"))
        ratios = f"{svc / bare:.2f}x", "1.3x", f"{svc / sha:.1f}x"
        row(widths, f"{size:g}MiB", runs[size], f"{svc:.3f}", f"{bare:.3f}", f"{sha:.4f}", *ratios, f"{stock:.3f}")
    print("   pyHanko: signers.sign_pdf with a SimpleSigner signing with the already loaded key, as the service does;")
    print("   stock SimpleSigner re-reads its PKCS #8 key for each of its two signatures (dry run and real).")
    return pdfs


def bench_memory(s: Signing, pdfs: dict[float, bytes], pki_dir: str, work: Path) -> None:
    print("\n2. Peak memory of the service path, multiple of the file size (goal <= 3x, input included)")
    widths = (8, 13, 9, 24, 9)
    row(widths, "size", "tracemalloc", "+ input", "fresh process: service", "pyHanko")
    for size, pdf in pdfs.items():
        tracemalloc.start()
        s.service(pdf)
        peak = tracemalloc.get_traced_memory()[1] / len(pdf)
        tracemalloc.stop()
        path = str(work / f"{size}.pdf")
        service, bare = (in_fresh_process(kind, pki_dir, path)[1] for kind in ("service", "pyhanko"))
        row(widths, f"{size:g}MiB", *(f"{x:.2f}x" for x in (peak, peak + 1, service, bare)))
    print("   tracemalloc: Python allocations of prepare + sign + finish, on top of the caller's input;")
    print("   fresh process: peak RSS minus RSS before reading the input file, to the signed file written")


def bench_soap(pdfs: dict[float, bytes], pki_dir: str, work: Path) -> None:
    print("\n3. End to end through SOAP (information): one run per size in a fresh warmed-up process, no HTTP.")
    print("   sign = service.signing.sign_with_key: prepare from the stored request, sign with the key, finish,")
    print("   store the result (what the cloud-key instrument will do) between PostSignRequest and GetSignResponse.")
    widths, stages = (8, 9, 8, 8, 8, 10, 11, 10), ("post", "sign", "get")
    row(widths, "size", "total s", *stages, "peak RSS", "sign: RSS", "goal")
    for size in pdfs:
        total, peak, times = in_fresh_process("soap", pki_dir, str(work / f"{size}.pdf"))
        sign = (times["sign peak"] - times["sign base"]) / len(pdfs[size])
        cells = (f"{t:.3f}" for t in (total, *(times[k] for k in stages)))
        row(widths, f"{size:g}MiB", *cells, f"{peak:.2f}x", f"{sign:.2f}x", "3x")
    print("   peak RSS: growth from the request body in hand (base64, the client's) to the response read, x file size;")
    print("   sign: RSS: growth during the sign stage alone, from the stored input to the stored output (goal <= 3x);")
    print("   each stage starts after a gc.collect(), so that the last stage's garbage is not counted as its base.")


def rates(fns: list, duration: float, turn: float = 0.05) -> tuple[list[float], list[float]]:
    """Calls per second of each of ``fns``, ``duration`` seconds each, taking turns of
    ``turn`` seconds, so that on a shared machine both sides of a ratio meet the same load.

    :return: calls per second of wall-clock time, and per second of this thread's CPU time.
    """
    done, wall, cpu = [0] * len(fns), [0.0] * len(fns), [0.0] * len(fns)
    while min(wall) < duration:
        for i, fn in enumerate(fns):
            start, start_cpu = time.perf_counter(), time.thread_time()
            while (elapsed := time.perf_counter() - start) < turn:
                fn()
                done[i] += 1
            wall[i] += elapsed
            cpu[i] += time.thread_time() - start_cpu
    return [n / t for n, t in zip(done, wall, strict=True)], [n / t for n, t in zip(done, cpu, strict=True)]


def bench_xades(s: Signing, duration: float, rounds: int) -> None:
    from msign_soap.signing.xades import finish_xades, prepare_xades

    p, digest = s.person, hashlib.sha256(b"document").digest()

    def prepare():
        return prepare_xades(digest, p.certificate_der, p.chain_der, signing_time=NOW, reference_uri="urn:bench:doc")

    def xades() -> bytes:
        draft = prepare()
        return finish_xades(draft, s.rsa(draft.signed_info), s.tsa)

    xades()  # warm-up
    pairs, cpu_ratios = [], []
    for n in range(rounds):
        order = [xades, lambda: s.rsa(digest)]
        (first, second), (first_cpu, second_cpu) = rates(order if n % 2 == 0 else order[::-1], duration)
        pairs.append((first, second) if n % 2 == 0 else (second, first))
        cpu_ratios.append(first_cpu / second_cpu if n % 2 == 0 else second_cpu / first_cpu)
    ratios = [x / r for x, r in pairs]
    print(f"\n4. XAdES-T (prepare + RSA + finish, in-process TSA) vs raw RSA-2048, {rounds} x {duration:g} s each")
    print("   in turns of 50 ms")
    widths = (10, 9, 8, 6)
    row(widths, "XAdES-T/s", "RSA/s", "ratio", "goal", then="   per-round ratios")
    xades_rate, rsa_rate = (statistics.median(p[i] for p in pairs) for i in (0, 1))
    for label, values in (("wall clock", ratios), ("CPU time", cpu_ratios)):
        rates_or_blank = (f"{xades_rate:.0f}", f"{rsa_rate:.0f}") if label == "wall clock" else ("", "")
        per_round = " ".join(f"{r:.2f}" for r in values)
        row(widths, *rates_or_blank, f"{statistics.median(values):.2f}x", "0.4x", then=f"   {per_round}  ({label})")
    print("   CPU time: of this thread, leaving out what other processes take of a shared machine")
    draft = prepare()
    value = s.rsa(draft.signed_info)
    parts = {
        "prepare_xades": prepare,
        "RSA sign": lambda: s.rsa(draft.signed_info),
        "finish_xades": lambda: finish_xades(draft, value, s.tsa),
        "of which LocalTsa.timestamp": lambda: s.tsa.timestamp(digest),
    }
    micros = (f"{name} {statistics.median(seconds(fn) for _ in range(200)) * 1e6:.0f}" for name, fn in parts.items())
    print("   one XAdES-T by part, median microseconds: " + ", ".join(micros))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", help="PDF sizes in MiB, comma-separated (default 1,10,50; --quick 0.5,2)")
    parser.add_argument("--quick", action="store_true", help="small sizes and few runs: a smoke run")
    parser.add_argument("--parts", default="1,2,3,4", help="which parts to run, comma-separated (default all)")
    parser.add_argument("--rounds", type=int, help="rounds of part 4 (default 3; --quick 1)")
    args = parser.parse_args()
    parts = {int(x) for x in args.parts.split(",")}
    sizes = [float(x) for x in (args.sizes or ("0.5,2" if args.quick else "1,10,50")).split(",")]
    runs = {size: 2 if args.quick else 3 if size >= 40 else 5 if size >= 5 else 9 for size in sizes}
    from importlib.metadata import version

    from msign_soap.pki import generate_demo_pki

    print(
        f"{os.cpu_count()} cores ({len(os.sched_getaffinity(0))} usable), Python {platform.python_version()}, "
        f"pyHanko {version('pyHanko')}, cryptography {version('cryptography')}, lxml {version('lxml')}"
    )
    with tempfile.TemporaryDirectory(prefix="msign-bench-") as tmp:
        work = Path(tmp)
        generate_demo_pki(work / "pki", PKI_URL)
        s = Signing(str(work / "pki"))
        if 1 in parts:
            pdfs = bench_pades(s, sizes, runs, work)
        elif parts & {2, 3}:
            pdfs = {size: make_pdf(int(size * MiB)) for size in sizes}
            for size, pdf in pdfs.items():
                (work / f"{size}.pdf").write_bytes(pdf)
        if 2 in parts:
            bench_memory(s, pdfs, str(work / "pki"), work)
        if 3 in parts:
            bench_soap(pdfs, str(work / "pki"), work)
        if 4 in parts:
            bench_xades(s, 0.3 if args.quick else 2.0, args.rounds or (1 if args.quick else 3))


if __name__ == "__main__":
    main()
