"""GetSignResponse over the request's life: Pending, Success, Failure, Expired, purged."""

from __future__ import annotations

import re

import pytest
import zeep

from msign_soap.core import SignContentInput, SignRequestInput
from msign_soap.errors import MSignError
from msign_soap.i18n import normalize_language, translate

from .conftest import IDNP, sha1


def post(client, n: int = 1) -> str:
    return client.PostSignRequest(
        request={
            "ContentType": "Hash",
            "Contents": {"SignContent": [{"Content": sha1(str(i)), "CorrelationID": f"c{i}"} for i in range(n)]},
            "ShortContentDescription": "Short",
            "ExpectedSigner": {"ID": IDNP},
        }
    )


def test_request_ids_are_128_bit_hex_and_unique(client):
    ids = {post(client) for _ in range(50)}
    assert len(ids) == 50
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)


@pytest.mark.postgresql
def test_success_returns_results_in_posted_order(service, client):
    request_id = post(client, 3)
    service.requests.complete(request_id, [(b"cert%d" % i, b"sig%d" % i) for i in range(3)])
    response = client.GetSignResponse(requestID=request_id, language="en")
    assert response.Status == "Success"
    assert response.Message is None
    assert [(r.CorrelationID, r.Certificate, r.Signature) for r in response.Results.SignResult] == [
        (f"c{i}", b"cert%d" % i, b"sig%d" % i) for i in range(3)
    ]


@pytest.mark.parametrize(
    "language, message",
    [
        ("ro", "Semnarea a eșuat"),
        ("ru", "Подписание не удалось"),
        ("en", "Signing failed"),
        ("RU", "Подписание не удалось"),
        ("ru-RU", "Подписание не удалось"),
        ("en_US", "Signing failed"),
        (None, "Semnarea a eșuat"),
        ("", "Semnarea a eșuat"),
        ("de", "Semnarea a eșuat"),
        ("xx-invalid-tag", "Semnarea a eșuat"),
    ],
)
def test_failure_message_language(service, client, language, message):
    request_id = post(client)
    service.requests.fail(request_id)
    response = client.GetSignResponse(requestID=request_id, language=language)
    assert response.Status == "Failure"
    assert response.Message == message
    assert [r.CorrelationID for r in response.Results.SignResult] == ["c0"]
    assert response.Results.SignResult[0].Signature is None


def test_every_message_is_translated():
    from msign_soap.i18n import messages

    for name in messages.__all__:
        msgid = getattr(messages, name)
        for language in ("ro", "ru"):
            assert translate(msgid, language) != msgid, (name, language)
            assert len(translate(msgid, language)) <= 100


def test_normalize_language():
    assert [normalize_language(v) for v in ("EN", " ru ", "ro-MD", None, "", "??")] == [
        "en",
        "ru",
        "ro",
        "ro",
        "ro",
        "ro",
    ]


@pytest.mark.postgresql
def test_pending_request_expires_after_its_lifetime(service, client, clock):
    request_id = post(client)
    clock.advance(seconds=service.config.request_lifetime - 1)
    assert client.GetSignResponse(requestID=request_id).Status == "Pending"
    clock.advance(seconds=1)
    response = client.GetSignResponse(requestID=request_id, language="en")
    assert response.Status == "Expired"
    assert response.Message == "The signing request has expired"
    with pytest.raises(MSignError, match="not Pending"):
        service.requests.complete(request_id, [(b"c", b"s")])


@pytest.mark.postgresql
def test_maintenance_expires_deletes_documents_then_purges(service, client, clock):
    config = service.config
    m = service.store.models
    finished = post(client)
    service.requests.complete(finished, [(b"c", b"s")])
    pending = post(client)

    clock.advance(seconds=config.request_lifetime)
    report = service.requests.run_maintenance()
    assert report.expired == 1
    with service.store.db.connection_context():
        assert m.SignRequest.get_by_id(pending).status == "Expired"

    clock.advance(seconds=config.document_retention)
    service.requests.run_maintenance()
    with service.store.db.connection_context():
        assert m.SignContent.select().where(m.SignContent.content.is_null(False)).count() == 0
    # Results survive the deletion of the posted documents.
    response = client.GetSignResponse(requestID=finished)
    assert response.Status == "Success" and response.Results.SignResult[0].Signature == b"s"

    clock.advance(seconds=config.result_retention)
    report = service.requests.run_maintenance()
    assert report.purged == 2
    for request_id in (finished, pending):
        with pytest.raises(zeep.exceptions.Fault) as caught:
            client.GetSignResponse(requestID=request_id)
        assert caught.value.code == "RequestNotFound"


@pytest.mark.postgresql
def test_two_workers_maintaining_at_once_do_each_thing_once(tmp_path, clock, database_url):
    """Two services on one database run their maintenance passes at the same
    moment over the same requests: each is expired, emptied and purged once."""
    import threading

    from .conftest import make_service

    services = [make_service(tmp_path, clock, database_url=database_url) for _ in range(2)]
    try:
        one = services[0].requests
        consumer = one.demo_consumer()
        ids = [
            one.post(consumer, SignRequestInput("Hash", [SignContentInput(sha1(str(i)))], "Short")) for i in range(40)
        ]
        reports: list[list] = [[], []]

        def maintain(worker: int, barrier: threading.Barrier) -> None:
            barrier.wait()
            reports[worker].append(services[worker].requests.run_maintenance())

        for advance in (one.config.request_lifetime, one.config.document_retention, one.config.result_retention):
            clock.advance(seconds=advance)
            barrier = threading.Barrier(2)
            threads = [threading.Thread(target=maintain, args=(n, barrier)) for n in range(2)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        done = [r for worker in reports for r in worker]
        assert len(done) == 6
        assert sum(r.expired for r in done) == sum(r.documents_deleted for r in done) == len(ids)
        assert sum(r.purged for r in done) == len(ids)
        assert sorted(r.request_id for r in one.audit.records("request.expired")) == sorted(ids)
        assert one.audit.verify().ok
    finally:
        for service in services:
            service.close()


@pytest.mark.postgresql
def test_finished_request_cannot_change(service, client):
    request_id = post(client)
    service.requests.complete(request_id, [(b"c", b"s")])
    with pytest.raises(MSignError, match="not Pending"):
        service.requests.fail(request_id)
    with pytest.raises(MSignError, match="not Pending"):
        service.requests.complete(request_id, [(b"x", b"y")])
    assert client.GetSignResponse(requestID=request_id).Results.SignResult[0].Signature == b"s"


@pytest.mark.postgresql
def test_complete_needs_one_result_per_content(service, client):
    request_id = post(client, 2)
    with pytest.raises(MSignError, match="has 2 contents, got 1"):
        service.requests.complete(request_id, [(b"c", b"s")])
    assert client.GetSignResponse(requestID=request_id).Status == "Pending"


@pytest.mark.postgresql
def test_requests_belong_to_their_consumer(service):
    a = service.requests.add_consumer("a")
    b = service.requests.add_consumer("b")
    request_id = service.requests.post(a, SignRequestInput("Hash", [SignContentInput(sha1("x"))], "Short"))
    assert service.requests.get(a, request_id, None).status.value == "Pending"
    from msign_soap.errors import AuthorizationFailed

    with pytest.raises(AuthorizationFailed):
        service.requests.get(b, request_id, None)


@pytest.mark.postgresql
def test_the_maintenance_thread_expires_requests(tmp_path, clock, database_url):
    import time

    from .conftest import make_service

    svc = make_service(tmp_path, clock, maintenance_interval=1, database_url=database_url)
    stop = svc.start_maintenance()
    try:
        consumer = svc.requests.demo_consumer()
        request_id = svc.requests.post(consumer, SignRequestInput("Hash", [SignContentInput(sha1("x"))], "Short"))
        clock.advance(seconds=svc.config.request_lifetime)
        m = svc.store.models
        deadline = time.monotonic() + 30
        status = "Pending"
        while status == "Pending" and time.monotonic() < deadline:
            with svc.store.db.connection_context():
                status = m.SignRequest.get_by_id(request_id).status
            stop.wait(0.05)
        assert status == "Expired"
    finally:
        stop.set()
        svc.close()


@pytest.mark.postgresql
def test_concurrent_transitions_end_in_exactly_one_state(tmp_path, database_url):
    import threading

    from .conftest import make_service

    svc = make_service(tmp_path, database_url=database_url)  # real clock, real threads, one database
    try:
        consumer = svc.requests.demo_consumer()
        request_id = svc.requests.post(consumer, SignRequestInput("Hash", [SignContentInput(sha1("x"))], "Short"))
        outcomes: list[str] = []
        barrier = threading.Barrier(8)

        def finish(n: int) -> None:
            barrier.wait()
            try:
                if n % 2:
                    svc.requests.complete(request_id, [(b"cert%d" % n, b"sig%d" % n)])
                    outcomes.append(f"complete{n}")
                else:
                    svc.requests.fail(request_id)
                    outcomes.append(f"fail{n}")
            except MSignError as e:
                assert "not Pending" in e.reason
                outcomes.append("refused")

        threads = [threading.Thread(target=finish, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        winners = [o for o in outcomes if o != "refused"]
        assert len(outcomes) == 8 and len(winners) == 1
        response = svc.requests.get(consumer, request_id, "en")
        if winners[0].startswith("complete"):
            n = int(winners[0][len("complete") :])
            assert response.status.value == "Success"
            assert (response.results[0].certificate, response.results[0].signature) == (b"cert%d" % n, b"sig%d" % n)
        else:
            assert response.status.value == "Failure"
    finally:
        svc.close()
