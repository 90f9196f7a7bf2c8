"""The documentation site (``docs/``) and the examples it shows.

The site is built as CI builds it — ``python -m sphinx -W --keep-going -b
html docs OUT`` — so a warning (a broken reference, a docstring that is not
valid reST, a setting without a ``#:`` comment, an unknown ``:setting:``)
fails the suite. Without Sphinx the build is skipped, unless ``CI`` is set,
in which case it fails.

The integrator's guide's examples run against a live server: the zeep
script through the whole flow, the page signed over plain HTTP as a browser
would; the .NET (Mono ``svcutil``) and Java (``wsimport``) examples built
from the server's ``?singleWsdl`` with the guide's commands (``interop``:
skipped without the tools, failed under CI).
"""

from __future__ import annotations

import importlib.util
import os
import re
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import lxml.html
import pytest
import requests

from .conftest import LiveServer

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
EXAMPLES = DOCS / "examples"
JAVA_BUILD_SCRIPT = ROOT / "tests" / "interop" / "java" / "build.sh"
JAXWS_JARS = Path(os.environ.get("JAXWS_JARS", "/usr/share/java"))

ION, ION_PIN = "2004001234567", "4567"  # a demo person and his securesign PIN
TIMEOUT = 120  # seconds, for one tool or client run on a loaded machine


def _clean_env() -> dict[str, str]:
    """The environment without proxies: every call here goes to 127.0.0.1."""
    return {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}


def _require(missing: list[str], what: str) -> None:
    if missing:
        reason = f"{what} not installed: {', '.join(missing)}"
        if os.environ.get("CI"):
            pytest.fail(reason + " (required when CI is set)", pytrace=False)
        pytest.skip(reason)


def _run(command: list[str], cwd: Path, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, env=_clean_env(), timeout=TIMEOUT, check=False, **kwargs
    )
    assert proc.returncode == 0, f"{' '.join(command)} failed (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    return proc


# -- the site ----------------------------------------------------------------------------------


def test_the_site_builds_without_warnings(tmp_path: Path) -> None:
    if importlib.util.find_spec("sphinx") is None:
        _require(["sphinx (pip install -e '.[test]')"], "Sphinx")
    out = tmp_path / "html"
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html", "-d", str(tmp_path / "doctrees")]
        + [str(DOCS), str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    seconds = time.monotonic() - started
    assert proc.returncode == 0, f"sphinx failed (exit {proc.returncode}) after {seconds:.1f} s:\n{proc.stderr}"
    print(f"docs built in {seconds:.1f} s")
    for page in ("index", "quickstart", "integrators", "configuration", "production", "commands", "api", "changes"):
        assert (out / f"{page}.html").is_file(), page
    # what is generated from the code is there
    settings = (out / "configuration.html").read_text(encoding="utf-8")
    assert 'id="setting-trusted-proxies"' in settings
    assert "MSIGN_REQUEST_LIFETIME" in settings
    assert "msign-soap consumer add" in (out / "commands.html").read_text(encoding="utf-8")


def test_the_settings_table_covers_every_setting() -> None:
    pytest.importorskip("sphinx")
    sys.path.insert(0, str(DOCS / "_ext"))
    try:
        import msign_docs
    finally:
        sys.path.remove(str(DOCS / "_ext"))
    from msign_soap.config import _FIELDS

    groups, problems = msign_docs.setting_groups()
    assert problems == []
    assert [s.name for g in groups for s in g.settings] == list(_FIELDS)
    options = {s.name: s.option for g in groups for s in g.settings}
    assert (options["trusted_proxies"], options["data_dir"], options["revocation"]) == (
        "--trusted-proxy",
        "--data-dir",
        None,
    )


# -- the zeep example --------------------------------------------------------------------------


def _readline(proc: subprocess.Popen[str], timeout: float) -> str:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    assert ready, "the example printed nothing"
    return proc.stdout.readline()


def _sign_as_a_browser(entry_url: str, idnp: str, pin: str) -> requests.Response:
    """Enter the sign page, sign with the securesign cloud key, post the callback."""
    browser = requests.Session()
    browser.trust_env = False
    sign_page = browser.get(entry_url, timeout=30)
    assert sign_page.status_code == 200, sign_page.text
    base, request_id = re.fullmatch(r"(http://[^/]+)/([0-9a-f]{32})/sign", sign_page.url.split("?")[0]).groups()
    action = f"/{request_id}/sign/securesign"
    page = lxml.html.fromstring(browser.get(base + action, timeout=30).text)
    [form] = [f for f in page.forms if f.get("action") == action]
    fields = dict(form.form_values())
    fields.update(idnp=idnp, pin=pin)
    result = browser.post(base + action, data=fields, timeout=60)
    assert result.status_code == 200, result.text
    # the result page's auto-submitting form, posted as the browser's script would
    [callback] = lxml.html.fromstring(result.text).forms
    return browser.post(callback.get("action"), data=dict(callback.form_values()), timeout=30)


def test_the_zeep_example_runs_the_whole_flow(live_server: LiveServer) -> None:
    proc = subprocess.Popen(
        [sys.executable, str(EXAMPLES / "zeep_client.py"), live_server.url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_clean_env(),
    )
    try:
        first = _readline(proc, TIMEOUT)
        assert first.startswith(f"Open {live_server.url}/"), first + (proc.stderr.read() if proc.stderr else "")
        returned = _sign_as_a_browser(first.split(" ", 1)[1].strip(), ION, ION_PIN)
        assert returned.status_code == 200 and "Thank you" in returned.text
        out, err = proc.communicate(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, f"{out}\n{err}"
    assert "Status: Success" in out
    assert "Valid: True - The signature is valid" in out
    assert f"SERIALNUMBER={ION}" in out


# -- the .NET and Java examples ---------------------------------------------------------------


def _wsdl_url(live_server: LiveServer) -> str:
    return live_server.soap_url + "?singleWsdl"


def _post_then_get(run: Any, live_server: LiveServer) -> None:
    """The example posts a hash, reads it Pending, then Success once the request is complete."""
    request_id = run(live_server.soap_url).stdout.strip()
    assert re.fullmatch(r"[0-9a-f]{32}", request_id), request_id
    assert run(live_server.soap_url, request_id).stdout.split() in (["Pending"], ["PENDING"])  # C#, Java
    live_server.complete(request_id, [(None, b"certificate", b"<signature/>")])
    lines = run(live_server.soap_url, request_id).stdout.splitlines()
    assert lines[0] in ("Success", "SUCCESS"), lines
    assert re.fullmatch(r"[0-9a-f-]+: 12 bytes", lines[1]), lines


@pytest.mark.interop
def test_the_dotnet_example_builds_and_runs(live_server: LiveServer, tmp_path: Path) -> None:
    _require([t for t in ("mono", "mcs", "svcutil") if shutil.which(t) is None], "Mono/WCF tooling")
    shutil.copy(EXAMPLES / "MSignExample.cs", tmp_path)
    # the guide's commands
    _run(["svcutil", "--noLogo", "--noConfig", "-o", "MSignProxy.cs", _wsdl_url(live_server)], tmp_path)
    _run(
        ["mcs", "-nologo", "-out:MSignExample.exe", "-r:System.ServiceModel.dll", "-r:System.Runtime.Serialization.dll"]
        + ["MSignExample.cs", "MSignProxy.cs"],
        tmp_path,
    )

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return _run(["mono", "MSignExample.exe", *args], tmp_path)

    _post_then_get(run, live_server)
    fault = subprocess.run(
        ["mono", "MSignExample.exe", live_server.soap_url, "0" * 32],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=_clean_env(),
        timeout=TIMEOUT,
        check=False,
    )
    assert (fault.returncode, fault.stderr.strip()) == (3, "RequestNotFound: Cannot find such request")


def _jaxws_classpath() -> str:
    """The JAX-WS runtime jars that tests/interop/java/build.sh names, colon-separated."""
    script = JAVA_BUILD_SCRIPT.read_text(encoding="utf-8")
    names = re.search(r'RUNTIME_JARS="([^"]*)"', script)
    assert names is not None, "build.sh no longer names RUNTIME_JARS"
    return ":".join(str(JAXWS_JARS / f"{name}.jar") for name in names.group(1).split())


@pytest.mark.interop
def test_the_java_example_builds_and_runs(live_server: LiveServer, tmp_path: Path) -> None:
    missing = [t for t in ("java", "javac", "wsimport") if shutil.which(t) is None]
    if not (JAXWS_JARS / "jaxws-rt.jar").is_file():
        missing.append(f"JAX-WS RI jars in {JAXWS_JARS} (Debian package 'jaxws')")
    _require(missing, "Java JAX-WS tooling")
    shutil.copy(EXAMPLES / "MSignExample.java", tmp_path)
    jaxws = _jaxws_classpath()
    # the guide's commands
    (tmp_path / "src").mkdir()
    (tmp_path / "classes").mkdir()
    _run(["wsimport", "-quiet", "-keep", "-Xnocompile", "-d", "src", _wsdl_url(live_server)], tmp_path)
    sources = sorted(str(p.relative_to(tmp_path)) for p in (tmp_path / "src").rglob("*.java"))
    _run(["javac", "-nowarn", "-d", "classes", "-cp", jaxws, *sources, "MSignExample.java"], tmp_path)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return _run(
            ["java", "-XX:TieredStopAtLevel=1", "-Djava.net.useSystemProxies=false"]
            + ["-Djavax.xml.soap.SAAJMetaFactory=com.sun.xml.messaging.saaj.soap.SAAJMetaFactoryImpl"]
            + ["-cp", f"classes:{jaxws}", "MSignExample", *args],
            tmp_path,
        )

    _post_then_get(run, live_server)
