"""The sign page: entry, pages, cancel, callback, security headers, languages."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import lxml.html
import pytest
from jinja2.ext import babel_extract
from werkzeug.test import Client

from msign_soap.core import (
    INSTRUMENTS,
    SignContentInput,
    SignRequestInput,
    SignSessions,
    SignStatus,
    check_return_url,
    normalize_msisdn,
)
from msign_soap.errors import InvalidParameter
from msign_soap.i18n import messages, pages, translate

from .conftest import minimal_pdf

TEMPLATES = Path(__file__).parent.parent / "templates"
RETURN_URL = "https://eservice.example.md/callback?id=42&x=a%20b"


def post_request(service: Any, *, consumer: Any = None, pdf: bool = False, **fields: Any) -> str:
    if pdf:
        contents = [
            SignContentInput(minimal_pdf("One"), "c0", name="Contract.pdf"),
            SignContentInput(minimal_pdf("Two"), "c1"),
        ]
    else:
        contents = [SignContentInput(b"\x01" * 20, "c0", name="Invoice 7"), SignContentInput(b"\x02" * 20, "c1")]
    request = SignRequestInput(
        "Pdf" if pdf else "Hash",
        contents,
        fields.pop("short", "Two documents"),
        fields.pop("description", "Contract and invoice for order 42"),
    )
    return service.requests.post(consumer or service.requests.demo_consumer(), request)


def enter(browser: Client, request_id: str, **params: str) -> Any:
    params.setdefault("ReturnUrl", RETURN_URL)
    return browser.get(f"/{request_id}", query_string=params)


def html(response: Any) -> Any:
    return lxml.html.fromstring(response.get_data(as_text=True))


def csp(response: Any) -> dict[str, str]:
    return dict(d.strip().split(" ", 1) for d in response.headers["Content-Security-Policy"].split(";"))


@pytest.fixture
def browser(service: Any) -> Client:
    return Client(service)


@pytest.fixture
def sessions(service: Any) -> SignSessions:
    return SignSessions(service.requests)


# -- entry -------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.postgresql
def test_entry_stores_the_parameters_and_redirects(service, browser, sessions, method):
    request_id = post_request(service)
    params = {
        "returnUrl": RETURN_URL,
        "RELAYSTATE": "state 1 & <2>",
        "instrument": "Mobile",
        "Msisdn": "+37369123456",
        "LANG": "ru-RU",
    }
    if method == "GET":
        response = browser.get(f"/{request_id}", query_string=params)
    else:
        response = browser.post(f"/{request_id}", data=params)
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/{request_id}/sign")
    session = sessions.session(request_id)
    assert session is not None
    assert session.entry.return_url == RETURN_URL
    assert session.entry.relay_state == "state 1 & <2>"
    assert session.entry.instrument == "mobile"
    assert session.entry.msisdn == "37369123456"
    assert session.entry.lang == "ru"
    page = browser.get(f"/{request_id}/sign")
    assert page.status_code == 200
    assert "Подписание документов" in page.get_data(as_text=True)


def test_form_parameters_win_over_the_query(service, browser, sessions):
    request_id = post_request(service)
    response = browser.post(
        f"/{request_id}?ReturnUrl=https://other.example.md/x", data={"ReturnUrl": RETURN_URL, "lang": "en"}
    )
    assert response.status_code == 303
    assert sessions.session(request_id).entry.return_url == RETURN_URL


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        pytest.param("mobisign", None, id="unknown-falls-back-to-choice"),
        pytest.param("SecureSign", "securesign", id="case-insensitive"),
        pytest.param("", None, id="empty"),
    ],
)
def test_instrument(service, browser, sessions, value, stored):
    request_id = post_request(service)
    assert enter(browser, request_id, Instrument=value).status_code == 303
    assert sessions.session(request_id).entry.instrument == stored
    page = html(browser.get(f"/{request_id}/sign"))
    assert len(page.xpath("//*[@data-instrument]")) == 5
    current = page.xpath("//*[@data-instrument][@aria-current]")
    assert [c.get("data-instrument") for c in current] == ([stored] if stored else [])


def test_entry_accepts_a_dashed_request_id(service, browser):
    request_id = post_request(service)
    dashed = f"{request_id[:8]}-{request_id[8:12]}-{request_id[12:16]}-{request_id[16:20]}-{request_id[20:]}"
    response = enter(browser, dashed.upper())
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/{request_id}/sign")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("37369123456", "37369123456", id="international"),
        pytest.param("+37369123456", "37369123456", id="plus"),
        pytest.param("069123456", "37369123456", id="national"),
        pytest.param("+373 69 123 456", "37369123456", id="spaces"),
        pytest.param("3736912345", None, id="too-short"),
        pytest.param("373691234567", None, id="too-long"),
        pytest.param("+40721123456", None, id="romanian"),
        pytest.param("69123456", None, id="no-prefix"),
        pytest.param("0691234567", None, id="national-too-long"),
        pytest.param("37369l23456", None, id="letter"),
        pytest.param("３７３６９１２３４５６", None, id="fullwidth-digits"),
        pytest.param("+-37369123456", None, id="junk"),
    ],
)
def test_msisdn_normalization(value, expected):
    if expected is None:
        with pytest.raises(InvalidParameter):
            normalize_msisdn(value)
    else:
        assert normalize_msisdn(value) == expected


def test_invalid_msisdn_is_refused_on_a_page(service, browser, sessions):
    request_id = post_request(service)
    response = enter(browser, request_id, MSISDN="12345", lang="en")
    assert response.status_code == 400
    assert "not a valid Moldovan number" in response.get_data(as_text=True)
    assert sessions.session(request_id) is None


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("/callback", id="relative"),
        pytest.param("//eservice.example.md/cb", id="scheme-relative"),
        pytest.param("javascript:alert(1)", id="javascript"),
        pytest.param("ftp://eservice.example.md/cb", id="ftp"),
        pytest.param("https://", id="no-host"),
        pytest.param("https://user:pw@eservice.example.md/cb", id="credentials"),
        pytest.param("https://eservice.example.md/a b", id="space"),
        pytest.param("https://eservice.example.md:99999/cb", id="bad-port"),
        pytest.param("https://eservice.example.md/" + "a" * 3000, id="too-long"),
        pytest.param("https://a.md;script-src:x/cb", id="csp-separator-in-host"),
        pytest.param("https://a.md'unsafe-inline'/cb", id="quote-in-host"),
        pytest.param("https://a.md,b.md/cb", id="comma-in-host"),
    ],
)
def test_invalid_return_url(service, browser, sessions, url):
    request_id = post_request(service)
    response = enter(browser, request_id, ReturnUrl=url, lang="en")
    assert response.status_code == 400
    assert "ReturnUrl) is not valid" in response.get_data(as_text=True)
    assert sessions.session(request_id) is None


@pytest.mark.parametrize(
    "url",
    ["https://eservice.example.md/cb?x=1", "http://127.0.0.1:8081/back", "https://[::1]:8443/cb", "https://e.md./cb"],
)
def test_valid_return_url_hosts(service, browser, url):
    assert enter(browser, post_request(service), ReturnUrl=url).status_code == 303


def test_return_url_prefix_allow_list(service, browser):
    consumer = service.requests.add_consumer("esvc", ["https://eservice.example.md/callback", "https://b.md/"])
    request_id = post_request(service, consumer=consumer)
    assert enter(browser, request_id).status_code == 303
    assert enter(browser, request_id, ReturnUrl="https://b.md/back").status_code == 303
    for refused in ("https://eservice.example.md/other", "https://b.md.evil.example/", "http://b.md/"):
        assert enter(browser, request_id, ReturnUrl=refused).status_code == 400, refused


def test_check_return_url_names_the_parameter():
    with pytest.raises(InvalidParameter) as e:
        check_return_url("https://x.md/", ("https://y.md/",))
    assert e.value.field == "ReturnUrl"


ERRORS = {
    "missing": ("ro", "Serviciul electronic nu a indicat unde să reveniți"),
    "unknown": ("ru", "Такого запроса на подпись нет"),
    "malformed": ("en", "There is no such signing request"),
    "expired": ("ro", "Cererea de semnare a expirat"),
    "finished": ("ru", "Пользователь отменил подписание"),
}


@pytest.mark.parametrize(
    ("case", "status"),
    [
        pytest.param("missing", 400, id="missing-return-url"),
        pytest.param("unknown", 404, id="unknown"),
        pytest.param("malformed", 404, id="malformed"),
        pytest.param("expired", 410, id="expired"),
        pytest.param("finished", 410, id="finished"),
    ],
)
def test_entry_errors_are_pages_in_the_chosen_language(service, browser, clock, case, status):
    lang, text = ERRORS[case]
    request_id = post_request(service)
    params = {"lang": lang, "ReturnUrl": RETURN_URL}
    if case == "missing":
        del params["ReturnUrl"]
    elif case == "unknown":
        request_id = "0" * 32
    elif case == "malformed":
        request_id = "../etc"
    elif case == "expired":
        clock.advance(seconds=service.config.request_lifetime + 1)
    elif case == "finished":
        service.requests.fail(request_id, messages.CANCELLED)
    response = browser.get(f"/{request_id}", query_string=params)
    assert response.status_code == status
    body = response.get_data(as_text=True)
    assert text in body
    assert f'<html lang="{lang}">' in body
    assert "Traceback" not in body
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"


def test_default_language_is_romanian(service, browser):
    response = browser.get("/" + "0" * 32, query_string={"lang": "de"})
    assert response.status_code == 404
    assert "Cererea de semnare nu a fost găsită" in response.get_data(as_text=True)


def test_the_page_needs_an_entry(service, browser):
    request_id = post_request(service)
    response = browser.get(f"/{request_id}/sign")
    assert response.status_code == 400
    assert "Deschideți această pagină din serviciul electronic" in response.get_data(as_text=True)


def test_unexpected_errors_show_a_page_without_details(service, browser, monkeypatch):
    request_id = post_request(service)

    def broken(self: Any, request_id: str) -> None:
        raise RuntimeError("secret detail /etc/passwd")

    monkeypatch.setattr(SignSessions, "summary", broken)
    response = enter(browser, request_id, lang="en")
    assert response.status_code == 500
    body = response.get_data(as_text=True)
    assert "internal error" in body and "secret detail" not in body and "Traceback" not in body


# -- the page ----------------------------------------------------------------------


def test_page_shows_what_is_signed(service, browser):
    request_id = post_request(service)
    enter(browser, request_id, lang="en")
    page = html(browser.get(f"/{request_id}/sign"))
    assert page.xpath("//*[@class='description']")[0].text_content() == "Contract and invoice for order 42"
    files = [li.text_content().strip() for li in page.xpath("//ul[@class='files']/li")]
    assert files[0].startswith("Invoice 7") and files[1].startswith("c1")
    assert not page.xpath("//ul[@class='files']//a")  # hashes are not downloadable


def test_short_description_when_there_is_no_long_one(service, browser):
    request_id = post_request(service, description=None, short="Only the short one")
    enter(browser, request_id)
    page = html(browser.get(f"/{request_id}/sign"))
    assert page.xpath("//*[@class='description']")[0].text_content() == "Only the short one"


def test_instrument_cards(service, browser):
    request_id = post_request(service)
    enter(browser, request_id, lang="en", MSISDN="069123456")
    page = html(browser.get(f"/{request_id}/sign"))
    cards = page.xpath("//*[@data-instrument]")
    assert [c.get("data-instrument") for c in cards] == ["securesign", "mobile", "moldsign", "nationalid", "tax"]
    available = {c.get("data-instrument"): c.get("href") for c in cards if c.tag == "a"}
    assert available == {name: f"/{request_id}/sign/{name}?lang=en" for name in INSTRUMENTS}
    assert "+37369123456" in cards[1].text_content()
    # the choice itself signs nothing: its only form is Cancel
    assert [f.get("action") for f in page.forms] == [f"/{request_id}/cancel"]


def test_hostile_description_is_escaped(service, browser):
    request_id = post_request(service, description="<script>alert(1)</script>", short='"><img src=x onerror=alert(1)>')
    enter(browser, request_id, RelayState='"><script>alert(2)</script>')
    body = browser.get(f"/{request_id}/sign").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    service.requests.fail(request_id)
    body = browser.get(f"/{request_id}/sign").get_data(as_text=True)
    assert "<script>alert(2)</script>" not in body
    assert 'value="&#34;&gt;&lt;script&gt;alert(2)&lt;/script&gt;"' in body


def test_the_page_works_without_javascript(service, browser):
    request_id = post_request(service, pdf=True)
    enter(browser, request_id)
    response = browser.get(f"/{request_id}/sign")
    assert "<script" not in response.get_data(as_text=True)
    assert "script-src" not in csp(response)


def test_language_switch(service, browser):
    request_id = post_request(service)
    enter(browser, request_id, lang="ru")
    page = html(browser.get(f"/{request_id}/sign"))
    links = {a.get("lang"): a.get("href") for a in page.xpath("//header//nav//a")}
    assert links == {code: f"/{request_id}/sign?lang={code}" for code in ("ro", "ru", "en")}
    assert page.xpath("//header//nav//a[@aria-current]")[0].get("lang") == "ru"
    english = browser.get(links["en"]).get_data(as_text=True)
    assert "Sign documents" in english and '<html lang="en">' in english


@pytest.mark.postgresql
def test_reopening_a_pending_request_shows_the_page_again(service, browser, sessions):
    """TC_FUNCT_03."""
    request_id = post_request(service)
    enter(browser, request_id, RelayState="first")
    first = sessions.session(request_id)
    response = enter(browser, request_id, RelayState="second", lang="en")
    assert response.status_code == 303
    second = sessions.session(request_id)
    assert second.entry.relay_state == "second"
    assert second.csrf_secret == first.csrf_secret  # a page open in another tab keeps working
    assert browser.get(f"/{request_id}/sign").status_code == 200


# -- PDF download --------------------------------------------------------------------


@pytest.mark.postgresql
def test_pdf_download(service, browser, clock):
    request_id = post_request(service, pdf=True)
    assert browser.get(f"/{request_id}/content/0").status_code == 404  # not before the entry
    enter(browser, request_id)
    page = html(browser.get(f"/{request_id}/sign"))
    links = [a.get("href") for a in page.xpath("//ul[@class='files']//a")]
    assert links == [f"/{request_id}/content/0", f"/{request_id}/content/1"]
    response = browser.get(links[0])
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/pdf"
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert "Contract.pdf" in response.headers["Content-Disposition"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.get_data() == minimal_pdf("One")
    assert "document-2.pdf" in browser.get(links[1]).headers["Content-Disposition"]
    assert browser.get(f"/{request_id}/content/2").status_code == 404
    # once the documents are deleted
    service.requests.fail(request_id)
    clock.advance(seconds=service.config.document_retention + 1)
    service.requests.run_maintenance()
    assert browser.get(links[0]).status_code == 404
    assert not html(browser.get(f"/{request_id}/sign")).xpath("//a[contains(@href, '/content/')]")


def test_hash_contents_are_not_downloadable(service, browser):
    request_id = post_request(service)
    enter(browser, request_id)
    assert browser.get(f"/{request_id}/content/0").status_code == 404


# -- cancel and the callback -----------------------------------------------------------


def cancel_token(browser: Client, request_id: str) -> str:
    page = html(browser.get(f"/{request_id}/sign"))
    return page.xpath("//form//input[@name='csrf']")[0].get("value")


@pytest.mark.parametrize(
    "token",
    [pytest.param(None, id="missing"), pytest.param("0" * 64, id="wrong"), pytest.param("", id="empty")],
)
def test_cancel_without_a_valid_token_changes_nothing(service, browser, token):
    request_id = post_request(service)
    enter(browser, request_id, lang="en")
    data = {"lang": "en"} if token is None else {"csrf": token, "lang": "en"}
    response = browser.post(f"/{request_id}/cancel", data=data)
    assert response.status_code == 403
    assert "The form could not be verified" in response.get_data(as_text=True)
    assert service.requests.get(service.requests.demo_consumer(), request_id, "en").status is SignStatus.PENDING


def test_token_of_another_request_is_refused(service, browser):
    one, two = post_request(service), post_request(service)
    enter(browser, one)
    enter(browser, two)
    response = browser.post(f"/{two}/cancel", data={"csrf": cancel_token(browser, one)})
    assert response.status_code == 403


@pytest.mark.postgresql
def test_cancel_ends_the_request_and_shows_the_callback(service, browser):
    request_id = post_request(service)
    enter(browser, request_id, RelayState="rs-1", lang="en")
    token = cancel_token(browser, request_id)
    response = browser.post(f"/{request_id}/cancel", data={"csrf": token, "lang": "ru"})
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/{request_id}/sign?lang=ru")
    state = service.requests.get(service.requests.demo_consumer(), request_id, "en")
    assert state.status is SignStatus.FAILURE
    assert state.message == "The user cancelled the signing"

    result = browser.get(f"/{request_id}/sign?lang=ru")
    assert result.status_code == 200
    body = result.get_data(as_text=True)
    assert translate(messages.CANCELLED, "ru") in body
    page = lxml.html.fromstring(body)
    form = page.forms[0]
    assert form.get("name") == "callback" and form.get("method") == "post"
    assert form.get("action") == RETURN_URL  # its query string kept
    assert dict(form.form_values()) == {"RequestID": request_id, "RelayState": "rs-1"}
    assert page.xpath("//button[@data-action='return']")
    policy = csp(result)
    assert policy["form-action"] == "https://eservice.example.md"
    nonce = page.xpath("//script")[0].get("nonce")
    assert policy["script-src"] == f"'nonce-{nonce}'"
    assert page.xpath("//script")[0].text == "document.forms.callback.submit()"

    # cancelling again changes nothing
    again = browser.post(f"/{request_id}/cancel", data={"csrf": token})
    assert again.status_code == 303
    assert service.requests.get(service.requests.demo_consumer(), request_id, "en").message == state.message


def test_relay_state_is_omitted_when_none_was_given(service, browser):
    request_id = post_request(service)
    enter(browser, request_id, ReturnUrl="http://localhost:8080/back")
    service.requests.complete(request_id, [(b"c", b"s"), (b"c", b"s")])
    response = browser.get(f"/{request_id}/sign?lang=en")
    page = html(response)
    assert page.xpath("//h1")[0].text_content() == "Signing completed"
    assert dict(page.forms[0].form_values()) == {"RequestID": request_id}
    assert page.forms[0].get("action") == "http://localhost:8080/back"
    assert csp(response)["form-action"] == "http://localhost:8080"


@pytest.mark.postgresql
def test_expired_request_shows_its_result(service, browser, clock):
    request_id = post_request(service)
    enter(browser, request_id, lang="en")
    token = cancel_token(browser, request_id)
    clock.advance(seconds=service.config.request_lifetime + 1)
    response = browser.get(f"/{request_id}/sign")
    assert response.status_code == 200
    assert "The signing request has expired" in response.get_data(as_text=True)
    assert html(response).forms[0].get("name") == "callback"
    # and a late cancel does not turn it into a Failure
    assert browser.post(f"/{request_id}/cancel", data={"csrf": token}).status_code == 303
    assert service.requests.get(service.requests.demo_consumer(), request_id, "en").status is SignStatus.EXPIRED


def test_reopening_a_finished_request_offers_the_way_back(service, browser):
    request_id = post_request(service)
    service.requests.fail(request_id, messages.CANCELLED)
    response = enter(browser, request_id, lang="en", RelayState="again")
    assert response.status_code == 410
    page = html(response)
    assert "already finished" in page.text_content()
    assert dict(page.forms[0].form_values()) == {"RequestID": request_id, "RelayState": "again"}
    assert not page.xpath("//script")  # shown, not bounced straight back
    assert "script-src" not in csp(response)


# -- headers ---------------------------------------------------------------------------


def test_security_headers_and_fresh_nonces(service, browser):
    request_id = post_request(service)
    enter(browser, request_id)
    responses = [browser.get(f"/{request_id}/sign") for _ in range(2)]
    nonces = []
    for response in responses:
        policy = csp(response)
        assert policy["default-src"] == "'none'"
        assert policy["form-action"] == "'self'"
        assert policy["frame-ancestors"] == "'none'"
        assert policy["base-uri"] == "'none'"
        assert policy["img-src"] == "'self'"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "no-referrer"
        nonce = re.fullmatch(r"'nonce-([A-Za-z0-9_-]+)'", policy["style-src"]).group(1)
        assert html(response).xpath("//style")[0].get("nonce") == nonce
        nonces.append(nonce)
    assert nonces[0] != nonces[1]
    for path in ("/", "/" + "0" * 32):
        assert "default-src 'none'" in browser.get(path).headers["Content-Security-Policy"]


def test_soap_and_index_still_served(service, browser):
    assert browser.get("/MSign.svc?singleWsdl").status_code == 200
    index = browser.get("/")
    assert index.status_code == 200 and "/MSign.svc?singleWsdl" in index.get_data(as_text=True)


# -- storage ---------------------------------------------------------------------------


@pytest.mark.postgresql
def test_sessions_are_purged_with_their_request(service, browser, clock, sessions):
    request_id = post_request(service)
    enter(browser, request_id)
    service.requests.fail(request_id)
    clock.advance(seconds=service.config.result_retention + 1)
    assert service.requests.run_maintenance().purged == 1
    assert sessions.session(request_id) is None


# -- translations ----------------------------------------------------------------------


def page_texts() -> list[str]:
    texts = [getattr(pages, name) for name in pages.__all__ if isinstance(getattr(pages, name), str)]
    texts += list(pages.INSTRUMENT_NAMES.values())
    from msign_soap.i18n.verdicts import VERDICT_MESSAGES
    from msign_soap.web import verify

    texts += [verify.NO_FILE, verify.NEEDS_DOCUMENT, verify.BAD_HASH, verify.TOO_LARGE, verify.NOT_AVAILABLE]
    texts += list(VERDICT_MESSAGES.values())
    for template in sorted(TEMPLATES.glob("*.html")):
        with template.open("rb") as f:
            texts += [message for _, _, message, _ in babel_extract(f, ("_",), [], {})]
    return texts


def test_every_page_text_is_translated():
    texts = page_texts()
    assert len(texts) > 30
    for text in texts:
        for language in ("ro", "ru"):
            assert translate(text, language) != text, (text, language)


# -- the cloud-key instruments (securesign, tax) -------------------------------------

ION, MARIA, ELENA = "2004001234567", "2001002345678", "2003004567896"
ION_PIN = "4567"  # securesign: the last 4 digits of the IDNP


def soap_request(client: Any, content_type: str = "Hash", signer: str | None = None) -> str:
    if content_type == "Pdf":
        contents = [
            {"Content": minimal_pdf("One"), "CorrelationID": "p0", "Name": "One.pdf"},
            {"Content": minimal_pdf("Two"), "CorrelationID": "p1", "Name": "Two.pdf"},
        ]
    else:
        contents = [{"Content": b"\x01" * 20, "CorrelationID": "h0"}, {"Content": b"\x02" * 20, "CorrelationID": "h1"}]
    request: dict[str, Any] = {
        "ContentType": content_type,
        "Contents": {"SignContent": contents},
        "ShortContentDescription": "Two documents",
    }
    if signer is not None:
        request["ExpectedSigner"] = {"ID": signer}
    return client.PostSignRequest(request=request)


def sign_form(browser: Client, request_id: str, instrument: str = "securesign") -> Any:
    page = html(browser.get(f"/{request_id}/sign/{instrument}"))
    [form] = [f for f in page.forms if f.get("action") == f"/{request_id}/sign/{instrument}"]
    return form


def submit(browser: Client, request_id: str, instrument: str = "securesign", **fields: str) -> Any:
    data = dict(sign_form(browser, request_id, instrument).form_values())
    data.update(fields)
    return browser.post(f"/{request_id}/sign/{instrument}", data=data)


@pytest.mark.parametrize(
    ("content_type", "instrument", "pin"),
    [
        pytest.param("Hash", "securesign", ION_PIN, id="hash-securesign"),
        pytest.param("Pdf", "tax", "234567", id="pdf-tax"),
    ],
)
@pytest.mark.postgresql
def test_signing_with_a_cloud_key(service, client, browser, content_type, instrument, pin):
    request_id = soap_request(client, content_type)
    assert enter(browser, request_id, RelayState="rs-7", lang="en").status_code == 303
    choice = html(browser.get(f"/{request_id}/sign"))
    href = choice.xpath(f"//a[@data-instrument='{instrument}']")[0].get("href")
    page = html(browser.get(href))
    form = [f for f in page.forms if f.get("data-form") == instrument][0]
    assert form.get("method") == "post" and form.get("autocomplete") == "off"
    assert form.get("action") == f"/{request_id}/sign/{instrument}"
    pin_input = form.xpath(".//input[@name='pin']")[0]
    assert (pin_input.get("type"), pin_input.get("autocomplete"), pin_input.get("value")) == ("password", "off", None)
    assert form.xpath(".//input[@name='idnp']")[0].get("readonly") is None
    assert "<script" not in browser.get(href).get_data(as_text=True)

    response = submit(browser, request_id, instrument, idnp=ION, pin=pin)
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/{request_id}/sign?lang=en")
    result = browser.get(response.headers["Location"])
    page = html(result)
    assert page.xpath("//h1")[0].text_content() == "Signing completed"
    assert page.forms[0].get("action") == RETURN_URL
    assert dict(page.forms[0].form_values()) == {"RequestID": request_id, "RelayState": "rs-7"}
    assert page.xpath("//script")[0].text == "document.forms.callback.submit()"

    answer = client.GetSignResponse(requestID=request_id, language="en")
    assert answer.Status == "Success"
    assert len(answer.Results.SignResult) == 2
    assert all(r.Certificate == service.pki.people[ION].certificate_der for r in answer.Results.SignResult)


@pytest.mark.parametrize(
    ("lang", "wrong", "left"),
    [
        pytest.param("en", "The IDNP or the PIN is wrong", "Attempts left before the key is locked: 4.", id="en"),
        pytest.param("ru", "Неверный IDNP или PIN-код", "Осталось попыток до блокировки ключа: 4.", id="ru"),
    ],
)
@pytest.mark.postgresql
def test_wrong_pin_shows_the_form_again(service, client, browser, lang, wrong, left):
    request_id = soap_request(client)
    enter(browser, request_id, lang=lang)
    response = submit(browser, request_id, idnp=ION, pin="0000")
    assert response.status_code == 200
    page = html(response)
    alert = page.xpath("//*[@role='alert']")[0].text_content()
    assert wrong in alert and left in alert
    form = [f for f in page.forms if f.get("data-form") == "securesign"][0]
    assert form.xpath(".//input[@name='idnp']")[0].get("value") == ION
    assert form.xpath(".//input[@name='pin']")[0].get("value") is None  # never echoed
    assert client.GetSignResponse(requestID=request_id, language="en").Status == "Pending"
    # and the right PIN still signs
    assert submit(browser, request_id, idnp=ION, pin=ION_PIN).status_code == 303
    assert client.GetSignResponse(requestID=request_id, language="en").Status == "Success"


@pytest.mark.postgresql
def test_locked_key_is_explained(service, client, browser):
    request_id = soap_request(client)
    enter(browser, request_id, lang="en")
    for _ in range(service.config.pin_attempts):
        submit(browser, request_id, idnp=ION, pin="0000")
    response = submit(browser, request_id, idnp=ION, pin=ION_PIN)
    assert response.status_code == 200
    assert "the key is locked for a while" in html(response).xpath("//*[@role='alert']")[0].text_content()
    assert client.GetSignResponse(requestID=request_id, language="en").Status == "Pending"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        pytest.param({"idnp": "12345", "pin": ION_PIN}, "Enter the IDNP: 13 digits.", id="short-idnp"),
        pytest.param({"idnp": ION[:-1] + "0", "pin": ION_PIN}, "Enter the IDNP: 13 digits.", id="idnp-check-digit"),
        pytest.param({"idnp": ION, "pin": ""}, "Enter the PIN.", id="no-pin"),
    ],
)
def test_incomplete_form(service, client, browser, fields, message):
    request_id = soap_request(client)
    enter(browser, request_id, lang="en")
    response = submit(browser, request_id, **fields)
    assert response.status_code == 200
    assert html(response).xpath("//*[@role='alert']")[0].text_content() == message
    assert service.instruments["securesign"].keystore.record("securesign", ION).failed_attempts == 0


@pytest.mark.parametrize("token", [pytest.param(None, id="missing"), pytest.param("0" * 64, id="wrong")])
def test_signing_without_a_valid_token_signs_nothing(service, client, browser, token):
    request_id = soap_request(client)
    enter(browser, request_id, lang="en")
    data = {"idnp": ION, "pin": ION_PIN, "lang": "en"}
    if token is not None:
        data["csrf"] = token
    response = browser.post(f"/{request_id}/sign/securesign", data=data)
    assert response.status_code == 403
    assert "The form could not be verified" in response.get_data(as_text=True)
    assert client.GetSignResponse(requestID=request_id, language="en").Status == "Pending"


@pytest.mark.parametrize(
    ("signer", "idnp", "pin", "reason"),
    [
        pytest.param(MARIA, ION, ION_PIN, messages.SIGNER_MISMATCH, id="expected-signer-mismatch"),
        pytest.param(None, ELENA, ELENA[-4:], messages.CERTIFICATE_REVOKED, id="revoked"),
    ],
)
def test_signer_refused_by_the_core_ends_in_failure(service, client, browser, signer, idnp, pin, reason):
    request_id = soap_request(client, signer=signer)
    enter(browser, request_id, lang="ro", RelayState="rs")
    token = dict(sign_form(browser, request_id).form_values())["csrf"]
    response = submit(browser, request_id, idnp=idnp, pin=pin)
    assert response.status_code == 303
    page = html(browser.get(response.headers["Location"]))
    assert translate(reason, "ro") in page.text_content()
    assert dict(page.forms[0].form_values()) == {"RequestID": request_id, "RelayState": "rs"}
    answer = client.GetSignResponse(requestID=request_id, language="en")
    assert (answer.Status, answer.Message) == ("Failure", reason)
    # a late post changes nothing
    late = browser.post(f"/{request_id}/sign/securesign", data={"csrf": token, "idnp": ION, "pin": ION_PIN})
    assert late.status_code == 303
    assert client.GetSignResponse(requestID=request_id, language="en").Status == "Failure"


def test_expected_signer_idnp_is_prefilled_and_read_only(service, client, browser):
    request_id = soap_request(client, signer=ION)
    enter(browser, request_id)
    idnp = sign_form(browser, request_id).xpath(".//input[@name='idnp']")[0]
    assert (idnp.get("value"), idnp.get("readonly")) == (ION, "readonly")
    assert submit(browser, request_id, pin=ION_PIN).status_code == 303
    assert client.GetSignResponse(requestID=request_id, language="en").Status == "Success"


@pytest.mark.parametrize(
    ("instrument", "form"),
    [
        pytest.param("securesign", "securesign", id="securesign"),
        pytest.param("TAX", "tax", id="tax"),
        pytest.param("mobile", None, id="mobile-without-msisdn-and-signer-shows-the-choice"),
    ],
)
def test_instrument_parameter_skips_the_choice(service, browser, instrument, form):
    request_id = post_request(service)
    enter(browser, request_id, Instrument=instrument, lang="en")
    page = html(browser.get(f"/{request_id}/sign"))
    forms = [f.get("data-form") for f in page.forms if f.get("data-form")]
    assert forms == ([form] if form else [])
    if form:
        assert page.xpath("//*[@data-instrument][@aria-current]")[0].get("data-instrument") == form
        assert page.forms[0].get("action") == f"/{request_id}/sign/{form}"


@pytest.mark.parametrize("name", ["mobisign", "nope"])
def test_instruments_without_a_form(service, browser, name):
    request_id = post_request(service)
    enter(browser, request_id)
    assert browser.get(f"/{request_id}/sign/{name}").status_code == 404
    token = cancel_token(browser, request_id)
    assert browser.post(f"/{request_id}/sign/{name}", data={"csrf": token}).status_code == 404


def test_the_form_needs_an_entry(service, browser):
    request_id = post_request(service)
    assert browser.get(f"/{request_id}/sign/securesign").status_code == 400


def test_an_unexpected_signing_error_keeps_the_request_open(service, client, browser, monkeypatch):
    from msign_soap.errors import TimestampError

    def unreachable_tsa(request_id: str, idnp: str, pin: str) -> None:
        raise TimestampError("the TSA at /secret/path is unreachable")

    monkeypatch.setattr(service.instruments["securesign"], "sign", unreachable_tsa)
    request_id = soap_request(client)
    enter(browser, request_id, lang="en")
    response = submit(browser, request_id, idnp=ION, pin=ION_PIN)
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "could not be signed because of an internal error" in body and "/secret/path" not in body
    assert client.GetSignResponse(requestID=request_id, language="en").Status == "Pending"
