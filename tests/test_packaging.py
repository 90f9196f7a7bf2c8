"""``pip install .`` (not only editable) gives a working service."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).parent.parent


def test_wheel_ships_the_contract_templates_and_catalogs(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("msign_soap-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "msign_soap/_wsdl/MSign.wsdl" in names
    assert "msign_soap/_templates/base.html" in names
    assert {"msign_demo_eservice/__init__.py", "msign_demo_eservice/templates/request.html"} <= names
    assert {
        "msign_soap/i18n/locale/ro/LC_MESSAGES/messages.po",
        "msign_soap/i18n/locale/ru/LC_MESSAGES/messages.po",
    } <= names
    assert any(n.endswith("entry_points.txt") for n in names)

    # Installed from the wheel alone, away from the checkout, the service starts and serves its WSDL.
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    script = (
        "import msign_soap, sys; assert msign_soap.__file__.startswith(sys.argv[1]), msign_soap.__file__\n"
        "from msign_soap.app import create_app; from msign_soap.config import load_config\n"
        "from werkzeug.test import Client\n"
        "svc = create_app(load_config(environ={}, data_dir=sys.argv[2]))\n"
        "r = Client(svc).get('/MSign.svc?singleWsdl'); assert r.status_code == 200\n"
        "stray = [n for n, m in list(sys.modules.items()) if n.startswith('msign_soap') and m.__file__\n"
        "         and not m.__file__.startswith(sys.argv[1])]\n"
        "assert not stray, stray\n"
        "print(len(r.get_data()))\n"
    )
    env = dict(os.environ, PYTHONPATH=str(target))
    result = subprocess.run(
        [sys.executable, "-c", script, str(target), str(tmp_path / "data")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) > 20000


def test_every_package_is_listed_in_setup_cfg():
    import configparser

    parser = configparser.ConfigParser()
    parser.read(ROOT / "setup.cfg")
    listed = set(parser["options"]["packages"].split())
    on_disk = {".".join(init.parent.relative_to(ROOT).parts) for init in (ROOT / "msign_soap").rglob("__init__.py")}
    assert on_disk <= listed, f"missing from setup.cfg [options] packages: {sorted(on_disk - listed)}"


def test_runtime_imports_are_declared_dependencies():
    """Every third-party module the package imports comes from install_requires
    (or from the extra that enables it), so ``pip install .`` alone runs it."""
    import ast
    import configparser
    import importlib.metadata
    import re

    parser = configparser.ConfigParser()
    parser.read(ROOT / "setup.cfg")

    def names(block: str) -> set[str]:
        lines = [line.split("#")[0].strip() for line in block.splitlines()]
        return {re.split(r"[ <>=!\[;]", line)[0].lower().replace("_", "-") for line in lines if line}

    required = names(parser["options"]["install_requires"])
    extras = {extra: names(block) for extra, block in parser["options.extras_require"].items()}
    optional = {"pkcs11": "pkcs11"}  # module -> the extra that declares it
    distributions = importlib.metadata.packages_distributions()
    imported: set[str] = set()
    for path in (ROOT / "msign_soap").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.split(".")[0])
    missing = []
    for module in sorted(imported - set(sys.stdlib_module_names) - {"msign_soap"}):
        dists = {d.lower().replace("_", "-") for d in distributions.get(module, [module])}
        declared = extras[optional[module]] if module in optional else required
        if not dists & declared:
            missing.append(f"{module} ({', '.join(sorted(dists))})")
    assert not missing, f"imported but not declared in setup.cfg: {missing}"
    # Imported indirectly: pyhanko_certvalidator.fetchers.requests_fetchers needs requests.
    assert "requests" in required


def _top_level_imports(package: Path) -> set[str]:
    """Top-level names of every module the package's files import (absolute imports)."""
    import ast

    names: set[str] = set()
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names


def test_the_demo_e_service_and_the_service_import_nothing_of_each_other():
    """The demo e-service reaches the service only over HTTP: it imports
    nothing of ``msign_soap`` (nor of the MSSP simulator), ``msign_soap``
    names it only to load it by name, and it needs nothing undeclared."""
    import ast
    import configparser

    demo, service = _top_level_imports(ROOT / "msign_demo_eservice"), _top_level_imports(ROOT / "msign_soap")
    assert not demo & {"msign_soap", "msign_mssp_sim"}
    assert "msign_demo_eservice" not in service
    assert demo - set(sys.stdlib_module_names) <= {
        "asn1crypto",
        "cryptography",
        "jinja2",
        "lxml",
        "requests",
        "werkzeug",
        "zeep",
    }
    by_name = {
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / "msign_soap").rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Constant) and node.value == "msign_demo_eservice"
    }
    assert by_name <= {"msign_soap/app.py", "msign_soap/cli.py"}, by_name

    parser = configparser.ConfigParser()
    parser.read(ROOT / "setup.cfg")
    assert "msign_demo_eservice" in parser["options"]["packages"].split()
    assert "templates/*.html" in parser["options.package_data"]["msign_demo_eservice"]
    required = {
        line.split("#")[0].split(">")[0].split("<")[0].strip()
        for line in parser["options"]["install_requires"].splitlines()
    }
    assert {"zeep", "requests", "lxml", "asn1crypto", "cryptography", "jinja2", "werkzeug"} <= required
