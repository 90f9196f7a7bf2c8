"""RFC 3161 time-stamps: the embedded TSA at /tsa, LocalTsa in process, HttpTimestamper."""

from __future__ import annotations

import asyncio
import hashlib
import subprocess
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from asn1crypto import cms, core, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from pyhanko.sign.validation.generic_cms import validate_tst_signed_data
from pyhanko_certvalidator import ValidationContext

from msign_soap.errors import ConfigurationError, TimestampError
from msign_soap.pki import TSA_PATH, DemoPki, load_demo_pki
from msign_soap.signing.timestamp import (
    DEMO_TSA_POLICY,
    HttpTimestamper,
    LocalTsa,
    Timestamper,
    check_token_imprint,
)
from tests.pki_support import TEMPLATE_URL, LiveService, demo_pki_template, live_service, serve  # noqa: F401

DATA = b"Contract no. 12"
IMPRINT = hashlib.sha256(DATA).digest()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, demo_pki_template: Path) -> Iterator[LiveService]:  # noqa: F811
    with live_service(tmp_path_factory.mktemp("live-tsa") / "data", demo_pki_template) as live:
        yield live


@pytest.fixture(scope="module")
def pki(demo_pki_template: Path) -> DemoPki:  # noqa: F811
    return load_demo_pki(demo_pki_template, TEMPLATE_URL)


@pytest.fixture(scope="module")
def local_tsa(pki: DemoPki) -> LocalTsa:
    return LocalTsa(pki.tsa.certificate, pki.tsa.private_key, pki.tsa.chain)


def tst_info(token: bytes) -> tsp.TSTInfo:
    content = cms.ContentInfo.load(token)["content"]["encap_content_info"]
    assert content["content_type"].native == "tst_info"
    return content["content"].parsed


def embedded_certificates(token: bytes) -> list[bytes]:
    return [c.chosen.dump() for c in cms.ContentInfo.load(token)["content"]["certificates"] or ()]


def write_pem(path: Path, *certs: x509.Certificate) -> None:
    path.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs))


def openssl_verify_token(pki: DemoPki, directory: Path, *args: str) -> str:
    write_pem(directory / "root.pem", pki.root.certificate)
    write_pem(directory / "untrusted.pem", pki.tsa.certificate, pki.issuing_ca.certificate)
    result = subprocess.run(
        ["openssl", "ts", "-verify", *args, "-CAfile", "root.pem", "-untrusted", "untrusted.pem"],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


# -- the /tsa endpoint ------------------------------------------------------------------------------------------


def test_openssl_query_over_http_verifies(pki: DemoPki, live: LiveService, tmp_path: Path) -> None:
    (tmp_path / "data.txt").write_bytes(DATA)
    subprocess.run(
        ["openssl", "ts", "-query", "-data", "data.txt", "-sha256", "-cert", "-out", "request.tsq"],
        cwd=tmp_path,
        check=True,
        capture_output=True,
        timeout=60,
    )
    reply = requests.post(
        live.url + TSA_PATH,
        data=(tmp_path / "request.tsq").read_bytes(),
        headers={"Content-Type": "application/timestamp-query"},
        timeout=30,
    )
    assert reply.status_code == 200
    assert reply.headers["Content-Type"] == "application/timestamp-reply"
    (tmp_path / "reply.tsr").write_bytes(reply.content)
    output = openssl_verify_token(pki, tmp_path, "-data", "data.txt", "-in", "reply.tsr")
    assert "Verification: OK" in output


def test_http_timestamper_against_tsa(pki: DemoPki, live: LiveService, tmp_path: Path) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    token = HttpTimestamper(live.url + TSA_PATH).timestamp(IMPRINT)
    info = tst_info(token)
    assert info["message_imprint"]["hashed_message"].native == IMPRINT
    assert info["policy"].dotted == DEMO_TSA_POLICY
    assert info["nonce"].native is not None
    assert info["accuracy"]["seconds"].native == 1
    assert before <= info["gen_time"].native <= datetime.now(UTC)
    # a SET OF: DER sorts it
    assert sorted(embedded_certificates(token)) == sorted(
        [pki.tsa.certificate_der, pki.issuing_ca.certificate_der, pki.root.certificate_der]
    )
    (tmp_path / "token.der").write_bytes(token)
    openssl_verify_token(pki, tmp_path, "-digest", IMPRINT.hex(), "-in", "token.der", "-token_in")


def test_http_timestamper_with_policy_and_sha512(live: LiveService) -> None:
    imprint = hashlib.sha512(DATA).digest()
    token = HttpTimestamper(live.url + TSA_PATH, policy=DEMO_TSA_POLICY).timestamp(imprint, "SHA-512")
    assert tst_info(token)["message_imprint"]["hash_algorithm"]["algorithm"].native == "sha512"


@pytest.mark.parametrize(
    ("method", "headers", "body", "status"),
    [
        pytest.param("POST", {"Content-Type": "application/timestamp-query"}, b"garbage", 400, id="garbage"),
        pytest.param("POST", {"Content-Type": "application/timestamp-query"}, b"", 400, id="empty"),
        pytest.param("POST", {"Content-Type": "application/octet-stream"}, b"x", 400, id="content-type"),
        pytest.param("POST", {}, b"x", 400, id="no-content-type"),
        pytest.param("GET", {}, b"", 405, id="get"),
        pytest.param("POST", {"Content-Type": "application/timestamp-query"}, b"0" * 70000, 413, id="too-large"),
    ],
)
def test_tsa_refuses_bad_requests_with_short_text(
    live: LiveService, method: str, headers: dict, body: bytes, status: int
) -> None:
    reply = requests.request(method, live.url + TSA_PATH, headers=headers, data=body, timeout=30)
    assert reply.status_code == status
    assert reply.headers["Content-Type"].startswith("text/plain")
    assert len(reply.text) < 100 and "Traceback" not in reply.text


# -- LocalTsa ---------------------------------------------------------------------------------------------------


def test_local_tsa_is_a_timestamper(pki: DemoPki, local_tsa: LocalTsa, tmp_path: Path) -> None:
    timestamper: Timestamper = local_tsa
    token = timestamper.timestamp(IMPRINT, "sha256")
    (tmp_path / "token.der").write_bytes(token)
    openssl_verify_token(pki, tmp_path, "-digest", IMPRINT.hex(), "-in", "token.der", "-token_in")


def test_local_tsa_token_validates_with_pyhanko(pki: DemoPki, local_tsa: LocalTsa) -> None:
    token = cms.ContentInfo.load(local_tsa.timestamp(IMPRINT))
    context = ValidationContext(
        trust_roots=[asn1_x509.Certificate.load(pki.root.certificate_der)],
        other_certs=[asn1_x509.Certificate.load(pki.issuing_ca.certificate_der)],
        revocation_mode="soft-fail",
    )
    status = asyncio.run(validate_tst_signed_data(token["content"], context, lambda algorithm: IMPRINT))
    assert status["intact"] and status["valid"]
    assert status["trust_problem_indic"] is None and status["validation_path"] is not None
    assert status["signing_cert"].dump() == pki.tsa.certificate_der


def test_local_tsa_uses_its_clock(pki: DemoPki) -> None:
    moment = datetime(2026, 11, 28, 12, 0, 0)  # naive UTC, as the service's clock gives it
    tsa = LocalTsa(pki.tsa.certificate, pki.tsa.private_key, pki.tsa.chain, clock=lambda: moment)
    assert tst_info(tsa.timestamp(IMPRINT))["gen_time"].native == moment.replace(tzinfo=UTC)


def request_bytes(**changes: object) -> bytes:
    fields: dict = {
        "version": "v1",
        "message_imprint": {"hash_algorithm": {"algorithm": "sha256"}, "hashed_message": IMPRINT},
        "nonce": 42,
        "cert_req": True,
    }
    fields.update(changes)
    return tsp.TimeStampReq(fields).dump()


@pytest.mark.parametrize(
    ("request_der", "failure"),
    [
        pytest.param(
            request_bytes(
                message_imprint={"hash_algorithm": {"algorithm": "sha1"}, "hashed_message": hashlib.sha1(DATA).digest()}
            ),
            "bad_alg",
            id="sha1",
        ),
        pytest.param(
            request_bytes(message_imprint={"hash_algorithm": {"algorithm": "sha256"}, "hashed_message": b"short"}),
            "bad_data_format",
            id="short-imprint",
        ),
        pytest.param(request_bytes(req_policy="1.2.3.4"), "unaccepted_policy", id="other-policy"),
        pytest.param(
            request_bytes(extensions=[{"extn_id": "1.2.3.4", "critical": False, "extn_value": b"\x05\x00"}]),
            "unaccepted_extensions",
            id="extension",
        ),
        pytest.param(request_bytes(version=2), "bad_request", id="version"),
    ],
)
def test_local_tsa_rejects(local_tsa: LocalTsa, request_der: bytes, failure: str) -> None:
    response = core.Sequence.load(local_tsa.respond(request_der))
    assert len(response) == 1  # a status, no token
    status = tsp.PKIStatusInfo.load(response[0].dump())
    assert status["status"].native == "rejection"
    assert status["fail_info"].native == {failure}


def test_local_tsa_honours_cert_req_and_nonce(local_tsa: LocalTsa) -> None:
    response = tsp.TimeStampResp.load(local_tsa.respond(request_bytes(cert_req=False, req_policy=DEMO_TSA_POLICY)))
    assert response["status"]["status"].native == "granted"
    token = response["time_stamp_token"].dump()
    assert embedded_certificates(token) == []
    assert tst_info(token)["nonce"].native == 42
    without_nonce = tsp.TimeStampReq.load(request_bytes())
    del without_nonce["nonce"]
    token = tsp.TimeStampResp.load(local_tsa.respond(without_nonce.dump()))["time_stamp_token"].dump()
    assert tst_info(token)["nonce"].native is None


@pytest.mark.parametrize(
    "moment",
    [datetime(2026, 11, 28, 12, 0, 0), datetime(2026, 11, 28, 12, 0, 0, 120000, tzinfo=UTC)],
    ids=["whole-second", "fraction"],
)
def test_local_tsa_assembles_canonical_der(pki: DemoPki, moment: datetime) -> None:
    """LocalTsa writes its tokens from pre-encoded DER pieces: asn1crypto re-encodes
    them to the same bytes, the digests and the signature hold, and the fields are
    what was asked for (timestamp() and respond(), with and without nonce and certificates)."""
    tsa = LocalTsa(pki.tsa.certificate, pki.tsa.private_key, pki.tsa.chain, clock=lambda: moment)
    with_nonce = tsp.TimeStampResp.load(tsa.respond(request_bytes(nonce=-(2**70))))
    without = tsp.TimeStampReq.load(request_bytes(cert_req=False))
    del without["nonce"]
    responses = [tsa.respond(request_bytes(nonce=-(2**70))), tsa.respond(without.dump())]
    assert [tsp.TimeStampResp.load(r).dump(force=True) for r in responses] == responses
    tokens = [
        (tsa.timestamp(IMPRINT), 1),
        (tsa.timestamp(hashlib.sha512(DATA).digest(), "sha512"), 1),
        (with_nonce["time_stamp_token"].dump(), -(2**70)),
        (tsp.TimeStampResp.load(responses[1])["time_stamp_token"].dump(), None),
    ]
    for token, nonce in tokens:
        assert cms.ContentInfo.load(token).dump(force=True) == token
        signed_data = cms.ContentInfo.load(token)["content"]
        info = tst_info(token)
        assert info["gen_time"].native == (moment if moment.tzinfo else moment.replace(tzinfo=UTC))
        assert info["policy"].dotted == DEMO_TSA_POLICY and info["accuracy"]["seconds"].native == 1
        assert info["tsa"].chosen == asn1_x509.Certificate.load(pki.tsa.certificate_der).subject
        assert info["serial_number"].native.bit_length() == 127
        if nonce is None:
            assert info["nonce"].native is None
        elif nonce < 0:
            assert info["nonce"].native == nonce
        else:
            assert isinstance(info["nonce"].native, int)
        [signer] = signed_data["signer_infos"]
        attributes = {a["type"].native: a["values"][0] for a in signer["signed_attrs"]}
        content = signed_data["encap_content_info"]["content"].contents
        assert attributes["message_digest"].native == hashlib.sha256(content).digest()
        signed = cms.CMSAttributes(list(signer["signed_attrs"])).dump(force=True)
        pki.tsa.certificate.public_key().verify(signer["signature"].native, signed, padding.PKCS1v15(), hashes.SHA256())
        assert (embedded_certificates(token) == []) == (nonce is None)


def test_local_tsa_refuses_undecodable_requests(local_tsa: LocalTsa) -> None:
    with pytest.raises(TimestampError):
        local_tsa.respond(b"\x30\x03abc")
    with pytest.raises(TimestampError):
        local_tsa.respond(request_bytes() + b"trailing")


def test_local_tsa_needs_a_tsa_certificate_and_its_key(pki: DemoPki) -> None:
    person = next(iter(pki.people.values()))
    with pytest.raises(ConfigurationError, match="does not belong"):
        LocalTsa(pki.tsa.certificate, person.private_key)
    with pytest.raises(ConfigurationError, match="timeStamping"):
        LocalTsa(person.certificate, person.private_key)


@pytest.mark.parametrize(
    ("algorithm", "imprint"),
    [
        pytest.param("md5", hashlib.md5(DATA).digest(), id="md5"),
        pytest.param("sha1", hashlib.sha1(DATA).digest(), id="sha1"),
        pytest.param("sha256", hashlib.sha1(DATA).digest(), id="wrong-length"),
    ],
)
def test_timestampers_check_their_input(local_tsa: LocalTsa, algorithm: str, imprint: bytes) -> None:
    for timestamper in (local_tsa, HttpTimestamper("http://127.0.0.1:9/unused")):
        with pytest.raises(TimestampError):
            timestamper.timestamp(imprint, algorithm)


# -- check_token_imprint: the token a signature embeds covers its imprint -----------------------------------------


def rewrite(token: bytes, change: Callable[[tsp.TSTInfo], object] = lambda info: None, content_type: str = "") -> bytes:
    """``token`` with its TSTInfo changed by ``change`` and, if given, another encapsulated content type."""
    content = cms.ContentInfo.load(token)
    encap = content["content"]["encap_content_info"]
    info = encap["content"].parsed
    change(info)
    encap["content"] = cms.ParsableOctetString(info.dump(force=True))
    if content_type:
        encap["content_type"] = content_type
    return content.dump(force=True)


def _set_imprint_algorithm(name: str) -> Callable[[tsp.TSTInfo], object]:
    return lambda info: info["message_imprint"]["hash_algorithm"].__setitem__("algorithm", name)


UNREADABLE, OTHER = "unreadable token", "does not cover"


@pytest.mark.parametrize(
    ("token", "message"),
    [
        pytest.param(lambda t: t[:-1], UNREADABLE, id="truncated"),
        pytest.param(lambda t: t + b"\0", UNREADABLE, id="trailing-byte"),
        pytest.param(lambda t: b"\x30\x80" + t[4:] + b"\0\0", UNREADABLE, id="ber-indefinite-length"),
        pytest.param(lambda t: b"\x30\x83\x00" + t[2:], UNREADABLE, id="non-minimal-length"),
        pytest.param(lambda t: b"\x30\x03\x02\x01\x00", UNREADABLE, id="sequence-of-an-integer"),
        pytest.param(lambda t: b"garbage", UNREADABLE, id="garbage"),
        pytest.param(lambda t: b"", UNREADABLE, id="empty"),
        pytest.param(lambda t: rewrite(t, lambda info: info.__delitem__("accuracy")), None, id="control-case"),
        pytest.param(lambda t: rewrite(t, content_type="data"), OTHER, id="not-a-tst-info"),
        pytest.param(lambda t: rewrite(t, _set_imprint_algorithm("sha3_256")), OTHER, id="other-algorithm"),
        pytest.param(
            lambda t: rewrite(t, lambda info: info["message_imprint"].__setitem__("hashed_message", bytes(32))),
            OTHER,
            id="other-imprint",
        ),
    ],
)
def test_check_token_imprint(local_tsa: LocalTsa, token: Callable[[bytes], bytes], message: str | None) -> None:
    checked = token(local_tsa.timestamp(IMPRINT))
    if message is None:
        check_token_imprint(checked, IMPRINT)
    else:
        with pytest.raises(TimestampError, match=message):
            check_token_imprint(checked, IMPRINT)


def test_check_token_imprint_takes_other_algorithms(local_tsa: LocalTsa) -> None:
    imprint = hashlib.sha512(DATA).digest()
    check_token_imprint(local_tsa.timestamp(imprint, "sha512"), imprint, "sha512")
    with pytest.raises(TimestampError, match=OTHER):
        check_token_imprint(local_tsa.timestamp(imprint, "sha512"), imprint[:32], "sha256")


# -- HttpTimestamper against a TSA that gets things wrong --------------------------------------------------------


def wrong_tsa(tsa: LocalTsa) -> Callable[[dict, Callable], Iterable[bytes]]:
    """A TSA whose path names what it gets wrong."""

    def reply(start_response: Callable, body: bytes, status: str = "200 OK", kind: str = "timestamp-reply") -> list:
        start_response(status, [("Content-Type", f"application/{kind}"), ("Content-Length", str(len(body)))])
        return [body]

    def app(environ: dict, start_response: Callable) -> Iterable[bytes]:
        fault = environ["PATH_INFO"].strip("/")
        request = tsp.TimeStampReq.load(environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0)))
        if fault == "nonce":
            request["nonce"] = request["nonce"].native + 1
        elif fault == "imprint":
            request["message_imprint"]["hashed_message"] = hashlib.sha256(b"something else").digest()
        elif fault == "no-certificates":
            request["cert_req"] = False
        elif fault == "policy":
            del request["req_policy"]
        elif fault == "rejection":
            request["message_imprint"]["hash_algorithm"]["algorithm"] = "sha1"
        elif fault == "http-500":
            return reply(start_response, b"oops", "500 Internal Server Error", "octet-stream")
        elif fault == "garbage":
            return reply(start_response, b"garbage")
        body = tsa.respond(request.dump())
        if fault == "content-type":
            return reply(start_response, body, kind="octet-stream")
        return reply(start_response, body)

    return app


@pytest.fixture(scope="module")
def wrong_tsa_url(local_tsa: LocalTsa) -> Iterator[str]:
    with serve(wrong_tsa(local_tsa)) as (url, _):
        yield url


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        pytest.param("nonce", "another nonce", id="nonce"),
        pytest.param("imprint", "another imprint", id="imprint"),
        pytest.param("no-certificates", "left its certificate out", id="no-certificates"),
        pytest.param("policy", "not the one requested", id="policy"),
        pytest.param("rejection", "refused the time-stamp (rejection: bad_alg", id="rejection"),
        pytest.param("http-500", "answered HTTP 500", id="http-500"),
        pytest.param("garbage", "malformed", id="garbage"),
        pytest.param("content-type", "application/octet-stream", id="content-type"),
    ],
)
def test_http_timestamper_detects(wrong_tsa_url: str, fault: str, message: str) -> None:
    policy = "1.2.3.4" if fault == "policy" else None
    with pytest.raises(TimestampError) as caught:
        HttpTimestamper(f"{wrong_tsa_url}/{fault}", policy=policy).timestamp(IMPRINT)
    assert message in caught.value.reason


def test_http_timestamper_control_case(wrong_tsa_url: str) -> None:
    assert tst_info(HttpTimestamper(f"{wrong_tsa_url}/nothing-wrong").timestamp(IMPRINT))


def test_http_timestamper_unreachable() -> None:
    with serve() as (url, _):
        pass  # the port is free again now
    with pytest.raises(TimestampError, match="cannot be reached"):
        HttpTimestamper(url + TSA_PATH, timeout=5).timestamp(IMPRINT)


def test_http_timestamper_timeout(local_tsa: LocalTsa) -> None:
    import threading

    release = threading.Event()

    def slow(environ: dict, start_response: Callable) -> Iterable[bytes]:
        release.wait(10)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b""]

    with serve(slow) as (url, _):
        try:
            started = datetime.now(UTC)
            with pytest.raises(TimestampError, match="cannot be reached"):
                HttpTimestamper(url, timeout=0.5).timestamp(IMPRINT)
            assert datetime.now(UTC) - started < timedelta(seconds=5)
        finally:
            release.set()
