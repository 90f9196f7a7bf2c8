"""Every page of the sign page in every language: no WCAG 2.1 A/AA violation
that axe-core finds, no console error (the tour: ``tests/page_tour.py``)."""

from __future__ import annotations

import os

import pytest

from .page_tour import WCAG_21_AA, axe_source, tour

pytestmark = pytest.mark.browser


def _axe() -> str:
    source = axe_source()
    if source is None:
        if os.environ.get("CI"):
            pytest.fail("axe-core is not installed (scripts/test installs it with npm)")
        pytest.skip("axe-core is not installed (npm install --prefix .venv axe-core)")
    return source


def test_axe_finds_a_violation(chromium):
    """The check can fail: an unlabelled input and low contrast are found."""
    page = chromium.new_page()
    try:
        page.set_content(
            '<html lang="en"><title>t</title><main><input>'
            '<p style="color:#ccc;background:#fff">Some grey text to read</p></main></html>'
        )
        page.evaluate(_axe())
        result = page.evaluate("tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG_21_AA)
    finally:
        page.close()
    assert {"label", "color-contrast"} <= {v["id"] for v in result["violations"]}


def test_every_page_is_accessible_and_logs_no_error(chromium, tmp_path):
    _axe()
    with tour(chromium, tmp_path / "shots", tmp_path / "data") as t:
        visits = t.run()
    assert {v.name for v in visits} >= {"choice", "cloud-key-form", "result-signed", "error-unknown-request"}
    assert all(v.screenshot.stat().st_size > 0 for v in visits)
    problems = [problem for visit in visits for problem in visit.problems()]
    assert not problems, "\n".join(problems)
