"""A tour of every page of the sign page, in every language, in Debian's
Chromium: a full-page screenshot of each, the console errors it logged, and
the WCAG 2.1 A/AA violations axe-core finds in it.

Used by ``tests/test_accessibility.py`` (no violation, no console error) and
by ``scripts/screenshots`` (the screenshots, for review)::

    python -m tests.page_tour OUT_DIR

axe-core comes from npm (``scripts/test`` installs it into
``.venv/node_modules``; ``AXE_CORE_JS`` may name another ``axe.min.js``). It
is run with Playwright's ``evaluate``, which the pages' Content-Security-Policy
does not apply to, so the pages are checked exactly as served.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from .conftest import CHROMIUM

ROOT = Path(__file__).resolve().parent.parent

LANGUAGES = ("ro", "ru", "en")
#: The axe-core rule tags of WCAG 2.1 level A and AA.
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
ION = "2004001234567"
ION_PIN = "4567"
ION_MSISDN = "37360000001"
HOSTILE = '<script>alert("x")</script> & <b>bold</b>'


def axe_source() -> str | None:
    """axe-core's ``axe.min.js``, if installed."""
    candidates = [os.environ.get("AXE_CORE_JS", ""), str(ROOT / ".venv/node_modules/axe-core/axe.min.js")]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return Path(candidate).read_text()
    return None


@dataclass
class PageVisit:
    """What the tour saw on one page in one language."""

    name: str
    lang: str
    url: str
    screenshot: Path
    console_errors: list[str] = field(default_factory=list)
    violations: list[dict[str, Any]] = field(default_factory=list)

    def problems(self) -> list[str]:
        out = [f"{self.name}/{self.lang}: console: {e}" for e in self.console_errors]
        for v in self.violations:
            targets = "; ".join(", ".join(n["target"]) for n in v["nodes"][:3])
            out.append(f"{self.name}/{self.lang}: axe {v['id']} ({v['impact']}): {v['help']} at {targets}")
        return out


class Tour:
    """Drives ``browser`` over the pages of the service at ``url``; the
    callbacks go to ``return_url``."""

    def __init__(self, browser: Any, url: str, service: Any, return_url: str, out: Path, axe: str | None) -> None:
        self.browser = browser
        self.url = url
        self.service = service
        self.return_url = return_url
        self.out = out
        self.axe = axe
        self.serial = 0
        self._signed_pdf: bytes | None = None

    # -- requests in each state ------------------------------------------------

    def post(self, content_type: str = "Hash", description: str = "Contract no. 17 of 2026") -> str:
        from msign_soap.core import SignContentInput, SignRequestInput

        from .conftest import minimal_pdf

        self.serial += 1
        if content_type == "Pdf":
            contents = [SignContentInput(minimal_pdf(f"Act {i}"), f"p{i}", name=f"Act {i}.pdf") for i in range(1, 3)]
        else:
            digest = hashlib.sha1(f"tour {self.serial}".encode()).digest()
            contents = [SignContentInput(digest, "h1", name="Invoice 7")]
        request = SignRequestInput(content_type, contents, "Tour", content_description=description)
        requests = self.service.requests
        return str(requests.post(requests.demo_consumer(), request))

    def signed_pdf(self) -> dict[str, Any]:
        """A PDF Ion Popescu signed, as a Playwright file payload (made once)."""
        from .conftest import in_thread

        if self._signed_pdf is None:
            request_id = self.post("Pdf")
            in_thread(self.service.instruments["securesign"].sign, request_id, ION, ION_PIN)
            self._signed_pdf = (
                self.service.requests.get(self.service.requests.demo_consumer(), request_id, "en").results[0].signature
            )
        return {"name": "signed.pdf", "mimeType": "application/pdf", "buffer": self._signed_pdf}

    def entry(self, request_id: str, lang: str, **extra: str) -> str:
        params = {"ReturnUrl": self.return_url, "RelayState": "tour", "lang": lang, **extra}
        return f"{self.url}/{request_id}?{urlencode(params)}"

    # -- the pages ---------------------------------------------------------------

    def pages(self) -> list[tuple[str, Callable[[Any, str], None]]]:
        """(name, open(page, lang)) of every page to see."""

        def index(page: Any, lang: str) -> None:
            page.goto(f"{self.url}/?lang={lang}")

        def choice(page: Any, lang: str) -> None:
            page.goto(self.entry(self.post("Pdf", HOSTILE), lang))

        def cloud_key_form(page: Any, lang: str) -> None:
            page.goto(self.entry(self.post(), lang, Instrument="securesign"))

        def wrong_pin(page: Any, lang: str) -> None:
            page.goto(self.entry(self.post(), lang, Instrument="securesign"))
            page.fill("input[name=idnp]", ION)
            page.fill("input[name=pin]", "0000")
            with page.expect_navigation():
                page.click("[data-action=sign]")

        def signed(page: Any, lang: str) -> None:
            from .conftest import in_thread

            request_id = self.post()
            page.goto(self.entry(request_id, lang))  # starts the session
            # off the event loop Playwright's sync API runs in this thread
            in_thread(self.service.instruments["securesign"].sign, request_id, ION, ION_PIN)
            page.goto(self.entry(request_id, lang))  # re-opened: the result, no auto-submit

        def cancelled(page: Any, lang: str) -> None:
            from msign_soap.i18n import messages

            request_id = self.post()
            page.goto(self.entry(request_id, lang))
            self.service.requests.fail(request_id, messages.CANCELLED)
            page.goto(self.entry(request_id, lang))

        def unknown_request(page: Any, lang: str) -> None:
            page.goto(self.entry("0" * 32, lang))

        def bad_return_url(page: Any, lang: str) -> None:
            page.goto(f"{self.url}/{self.post()}?{urlencode({'ReturnUrl': 'ftp://example', 'lang': lang})}")

        def mobile_form(page: Any, lang: str) -> None:
            page.goto(self.entry(self.post(), lang))
            page.click("[data-instrument=mobile]")
            page.wait_for_selector("input[name=msisdn]")

        def mobile_progress(page: Any, lang: str) -> None:
            page.goto(self.entry(self.post(), lang))
            page.click("[data-instrument=mobile]")
            page.fill("input[name=idnp]", ION)
            page.fill("input[name=msisdn]", ION_MSISDN[3:])
            page.click("[data-action=sign]")
            page.wait_for_selector("[data-verification-code]")

        def phone(page: Any, lang: str) -> None:
            # the simulator's phone with the request of the progress page (its pages are in English)
            page.goto(f"{self.url}/mssp-sim/phone/{ION_MSISDN}")
            page.wait_for_selector("[data-action=approve]")

        def local_signer(page: Any, lang: str) -> None:
            page.goto(self.entry(self.post(), lang))
            page.click("[data-instrument=moldsign]")
            page.locator("[data-action=sign]").wait_for(state="visible")  # the signer's certificates are listed

        def verify_form(page: Any, lang: str) -> None:
            page.goto(f"{self.url}/verify?lang={lang}")

        def verify_report(page: Any, lang: str) -> None:
            page.goto(f"{self.url}/verify?lang={lang}")
            page.set_input_files("input[name=signature]", [self.signed_pdf()])
            with page.expect_navigation():
                page.click("[data-action=verify]")

        def upload_form(page: Any, lang: str) -> None:
            page.goto(f"{self.url}/sign/upload?lang={lang}")

        def upload_done(page: Any, lang: str) -> None:
            page.goto(f"{self.url}/sign/upload?lang={lang}")
            page.set_input_files("input[name=document]", [self.signed_pdf()])
            page.click("[data-action=upload]")
            page.click("[data-instrument=securesign]")
            page.fill("input[name=idnp]", ION)
            page.fill("input[name=pin]", ION_PIN)
            page.click("[data-action=sign]")
            page.locator("[data-status=Success]").wait_for()

        return [
            ("index", index),
            ("choice", choice),
            ("cloud-key-form", cloud_key_form),
            ("wrong-pin", wrong_pin),
            ("result-signed", signed),
            ("result-cancelled", cancelled),
            ("error-unknown-request", unknown_request),
            ("error-bad-return-url", bad_return_url),
            ("mobile-form", mobile_form),
            ("mobile-progress", mobile_progress),
            ("mssp-simulator-phone", phone),
            ("local-signer", local_signer),
            ("verify-form", verify_form),
            ("verify-report", verify_report),
            ("upload-form", upload_form),
            ("upload-signed", upload_done),
        ]

    def run(self, languages: tuple[str, ...] = LANGUAGES) -> list[PageVisit]:
        self.out.mkdir(parents=True, exist_ok=True)
        visits = []
        for name, open_page in self.pages():
            for lang in languages:
                visits.append(self.visit(name, lang, open_page))
        return visits

    def visit(self, name: str, lang: str, open_page: Callable[[Any, str], None]) -> PageVisit:
        context = self.browser.new_context(locale="en-US", viewport={"width": 390, "height": 844})
        context.set_default_timeout(20_000)
        page = context.new_page()
        errors: list[str] = []

        def console(message: Any) -> None:
            # Chrome logs the page's own 4xx status (the error pages have one) as an error
            own_status = message.location.get("url") == page.url and message.text.startswith("Failed to load")
            if message.type == "error" and not own_status:
                errors.append(f"{message.text} ({message.location.get('url')})")

        page.on("console", console)
        page.on("pageerror", lambda e: errors.append(str(e)))
        try:
            open_page(page, lang)
            page.wait_for_load_state("load")
            visit = PageVisit(name, lang, page.url, self.out / f"{name}-{lang}.png", errors)
            page.screenshot(path=str(visit.screenshot), full_page=True)
            if self.axe is not None:
                page.evaluate(self.axe)
                result = page.evaluate("tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG_21_AA)
                visit.violations = result["violations"]
            return visit
        finally:
            context.close()


@contextmanager
def tour(browser: Any, out: Path, data_dir: Path) -> Iterator[Tour]:
    """The service and a stand-in e-service on loopback, and a tour of them."""
    from werkzeug.wrappers import Response

    from msign_soap.app import create_app
    from msign_soap.config import load_config
    from msign_soap.local_signer import LocalSignerApp, SignerKey
    from msign_soap.signing.timestamp import HttpTimestamper

    from . import pki_support

    def eservice(environ: dict, start_response: Callable) -> Any:
        body = '<!DOCTYPE html><html lang="en"><title>E-service</title><h1>E-service</h1></html>'
        return Response(body, content_type="text/html; charset=utf-8")(environ, start_response)

    pki_support.seed_demo_pki(data_dir)
    # the service's public URL is its own: the mobile instrument calls the simulator mounted under it;
    # a local signer (msign-soap local-signer) with Ion Popescu's key answers the moldsign page
    with (
        pki_support.serve() as (url, server),
        pki_support.serve(eservice) as (back, _),
        pki_support.serve() as (signer_url, signer),
    ):
        config = load_config(environ={}, data_dir=data_dir, public_url=url, local_signer_url=signer_url)
        service = create_app(config)
        server.app = service
        ion = service.pki.people[ION]
        key = SignerKey(ion.certificate, ion.private_key, ion.chain)
        signer.app = LocalSignerApp(key, HttpTimestamper(url + "/tsa"), [url])
        try:
            yield Tour(browser, url, service, back + "/back", out, axe_source())
        finally:
            service.close()


def main(argv: list[str]) -> int:
    import tempfile

    from playwright.sync_api import sync_playwright

    out = Path(argv[0] if argv else "screenshots").resolve()
    with sync_playwright() as p, tempfile.TemporaryDirectory() as data:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            with tour(browser, out, Path(data)) as t:
                visits = t.run()
        finally:
            browser.close()
    problems = [problem for visit in visits for problem in visit.problems()]
    report = [
        {"page": v.name, "lang": v.lang, "screenshot": v.screenshot.name, "problems": v.problems()} for v in visits
    ]
    (out / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False))
    unchecked = "" if t.axe else " (axe-core is not installed: no accessibility check)"
    print(f"{len(visits)} screenshots in {out}{unchecked}")
    for problem in problems:
        print(problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
