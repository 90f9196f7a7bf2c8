"""Sphinx extension: the parts of the documentation that are read from the code.

- ``.. msign-settings::`` — the table of every setting of
  :class:`msign_soap.config.Config`, from its fields (name, type, default)
  and the ``#:`` comments above them, with the ``MSIGN_*`` variable and the
  ``msign-soap serve`` option of each. A few fields share the comment of the
  one before them (:data:`SHARED_COMMENTS`: ``tls_key`` that of
  ``tls_cert``, …). Each setting gets the label ``setting-<name>``.
- ``:setting:`name``` — a link to that row; an unknown name is an error, so
  prose cannot keep naming a setting that was renamed or removed.
- ``.. msign-operations::`` — the SOAP operations, their parameters and the
  docstrings of :class:`msign_soap.soap.service.MSignService`.
- ``.. msign-demo-people::`` — the demo people of the embedded default with
  their PINs, from :data:`msign_soap.pki.DEMO_PEOPLE`.
- ``.. msign-cli::`` — ``msign-soap --help`` and the help of every command and
  sub-command, one section each, as ``argparse`` prints them.

An undocumented field, or a field type the table cannot describe, is a
warning: the build (``-W``) fails, and the docs are fixed along with the code.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from docutils import nodes
from docutils.parsers.rst.states import Inliner
from docutils.statemachine import StringList
from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.pycode import ModuleAnalyzer
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import nested_parse_with_titles

CONFIG_MODULE = "msign_soap.config"
#: How each field type reads in TOML (and in the environment).
TYPE_NAMES = {
    "str": "string",
    "str | None": "string",
    "int": "integer",
    "int | None": "integer",
    "float": "number",
    "bool": "boolean",
    "Path": "path",
    "Path | None": "path",
    "tuple[str, ...]": "list of strings",
}
#: Fields of Config that are not settings.
NOT_SETTINGS = ("extra",)
#: Fields documented by the ``#:`` comment of the field named (which comes
#: before them in the class). Any other field without a comment of its own
#: fails the build: a new setting must say what it does.
SHARED_COMMENTS = {
    "port": "host",
    "pin_lockout": "pin_attempts",
    "tls_key": "tls_cert",
    "client_ca": "tls_cert",
    "soap_port": "tls_cert",
    "client_cert_header": "trusted_proxies",
    "soap_address_rate_limit": "soap_rate_limit",
    "pin_rate_limit": "soap_rate_limit",
}
MiB = 1024 * 1024


@dataclasses.dataclass
class Setting:
    """One field of ``Config`` as the table shows it."""

    name: str
    kind: str
    default: str
    option: str | None


@dataclasses.dataclass
class SettingGroup:
    """Consecutive fields sharing one ``#:`` comment: one row of the table."""

    settings: list[Setting]
    comment: list[str]


def _config_fields() -> list[dataclasses.Field[Any]]:
    from msign_soap.config import Config

    return [f for f in dataclasses.fields(Config) if f.name not in NOT_SETTINGS]


def _toml(value: object) -> str:
    """A default value as it would be written in the TOML file."""
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return f"``{str(value).lower()}``"
    if isinstance(value, Path):
        return f'``"{value}"``'
    if isinstance(value, str):
        return f'``"{value}"``' if value else '``""``'
    if isinstance(value, tuple):
        return "``[" + ", ".join(f'"{v}"' for v in value) + "]``"
    if isinstance(value, int) and value >= MiB and value % MiB == 0:
        return f"``{value}`` ({value // MiB} MiB)"
    return f"``{value}``"


def _serve_options() -> set[str]:
    text, _ = cli_help(["serve"])
    return set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", text))


def _option(name: str, options: set[str]) -> str | None:
    dashed = "--" + name.replace("_", "-")
    for candidate in (dashed, dashed[:-3] + "y", dashed[:-1]):  # trusted_proxies: --trusted-proxy
        if candidate in options and (candidate == dashed or name.endswith("s")):
            return candidate
    return None


def setting_groups() -> tuple[list[SettingGroup], list[str]]:
    """The table's rows, and the problems found reading them."""
    analyzer = ModuleAnalyzer.for_module(CONFIG_MODULE)
    comments = analyzer.find_attr_docs()
    options = _serve_options()
    groups: list[SettingGroup] = []
    problems: list[str] = []
    for field in _config_fields():
        kind = TYPE_NAMES.get(str(field.type))
        if kind is None:
            problems.append(f"Config.{field.name}: the settings table does not know the type {field.type!r}")
            kind = str(field.type)
        if field.default is dataclasses.MISSING:
            problems.append(f"Config.{field.name}: no default value to show")
        setting = Setting(field.name, kind, _toml(field.default), _option(field.name, options))
        comment = [line for line in comments.get(("Config", field.name), []) if line.strip()]
        if comment:
            groups.append(SettingGroup([setting], comment))
        elif groups and SHARED_COMMENTS.get(field.name) == groups[-1].settings[0].name:
            groups[-1].settings.append(setting)
        else:
            problems.append(f"Config.{field.name}: no #: comment above the field to explain it")
            groups.append(SettingGroup([setting], ["(not documented)"]))
    return groups, problems


def _table_lines(groups: list[SettingGroup]) -> Iterator[str]:
    yield ".. list-table::"
    yield "   :header-rows: 1"
    yield "   :widths: 30 20 50"
    yield "   :class: msign-settings"
    yield ""
    yield "   * - Setting"
    yield "     - Default"
    yield "     - Meaning"
    for group in groups:
        first = True
        for setting in group.settings:
            yield f"   * - .. _setting-{setting.name}:"
            yield ""
            yield f"       ``{setting.name}`` ({setting.kind})"
            yield ""
            yield f"       ``MSIGN_{setting.name.upper()}``"
            if setting.option:
                yield ""
                yield f"       ``{setting.option}``"
            yield f"     - {setting.default}"
            if first:
                yield f"     - {group.comment[0].strip()}"
                for line in group.comment[1:]:
                    yield f"       {line.strip()}"
            else:
                yield f"     - (with ``{group.settings[0].name}``)"
            first = False


class SettingsDirective(SphinxDirective):
    """``.. msign-settings::`` — the table of every setting."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        groups, problems = setting_groups()
        for problem in problems:
            self.reporter.warning(problem, line=self.lineno)
        self.env.note_dependency(ModuleAnalyzer.for_module(CONFIG_MODULE).srcname)
        container = nodes.container()
        self.state.nested_parse(StringList(list(_table_lines(groups)), self.get_source_info()[0]), 0, container)
        return container.children


def setting_role(
    name: str,
    rawtext: str,
    text: str,
    lineno: int,
    inliner: Inliner,
    options: dict[str, Any] | None = None,
    content: list[str] | None = None,
) -> tuple[list[nodes.Node], list[nodes.system_message]]:
    """``:setting:`name``` — a link to the setting's row of the table."""
    if text not in {f.name for f in _config_fields()}:
        message = inliner.reporter.error(f"{text!r} is not a setting of msign_soap.config.Config", line=lineno)
        return [inliner.problematic(rawtext, rawtext, message)], [message]
    env = inliner.document.settings.env
    reference = addnodes.pending_xref(
        rawtext,
        refdomain="std",
        reftype="ref",
        reftarget=f"setting-{text}",
        refexplicit=True,
        refwarn=True,
        refdoc=env.docname,
    )
    reference += nodes.literal(rawtext, text, classes=["xref", "setting"])
    return [reference], []


# -- the SOAP operations ----------------------------------------------------------------------


def _operation_lines() -> Iterator[str]:
    import inspect

    from msign_soap.soap.service import MSignService

    for name, method in MSignService.public_methods.items():
        parameters = ", ".join(f"{p}: {t.get_type_name()}" for p, t in method.in_message._type_info.items())
        returns = ", ".join(t.get_type_name() for t in method.out_message._type_info.values())
        yield f".. _operation-{name}:"
        yield ""
        yield f"``{name}({parameters}) → {returns}``"
        for line in inspect.cleandoc(method.doc or "(not documented)").splitlines():
            yield f"   {line}" if line else ""
        yield ""


class OperationsDirective(SphinxDirective):
    """``.. msign-operations::`` — the service's operations, with the docstrings of
    :class:`msign_soap.soap.service.MSignService` written for integrators."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        container = nodes.container()
        self.state.nested_parse(StringList(list(_operation_lines()), self.get_source_info()[0]), 0, container)
        return container.children


# -- the demo people ----------------------------------------------------------------------------


def _demo_people_lines() -> Iterator[str]:
    from msign_soap.instruments.cloudkey import CLOUD_KEY_PROVIDERS, demo_pin
    from msign_soap.pki import DEMO_PEOPLE

    yield ".. list-table::"
    yield "   :header-rows: 1"
    yield "   :class: msign-demo-people"
    yield ""
    yield "   * - Name"
    yield "     - IDNP"
    for provider in CLOUD_KEY_PROVIDERS:
        yield f"     - ``{provider}`` PIN"
    yield "     - Phone (``mobile``)"
    yield "     - SIM PIN"
    for person in DEMO_PEOPLE:
        notes = []
        if person.organization:
            notes.append(f"signs for {person.organization}, IDNO {person.idno}")
        if person.revoked:
            notes.append("certificate revoked")
        yield f"   * - {person.name}" + (f" ({'; '.join(notes)})" if notes else "")
        yield f"     - {person.idnp}"
        for provider in CLOUD_KEY_PROVIDERS:
            yield f"     - {demo_pin(provider, person.idnp)}"
        yield f"     - {person.msisdn}"
        yield f"     - {person.sim_pin}"


class DemoPeopleDirective(SphinxDirective):
    """``.. msign-demo-people::`` — the demo people of the embedded default, with their PINs."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        container = nodes.container()
        self.state.nested_parse(StringList(list(_demo_people_lines()), self.get_source_info()[0]), 0, container)
        return container.children


# -- the command reference ---------------------------------------------------------------------


def cli_help(command: list[str]) -> tuple[str, int]:
    """What ``msign-soap COMMAND --help`` prints (80 columns), and its exit status."""
    from msign_soap.cli import main

    out = io.StringIO()
    saved = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "80"
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            try:
                status = main([*command, "--help"])
            except SystemExit as e:
                status = e.code if isinstance(e.code, int) else 1
    finally:
        if saved is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = saved
    return out.getvalue(), status


def _subcommands(text: str) -> list[str]:
    """The sub-commands a help text lists under its positional arguments."""
    positional = text.partition("\npositional arguments:\n")[2].partition("\n\n")[0]
    match = re.search(r"^  \{([a-z0-9-]+(?:,[a-z0-9-]+)*)\}", positional, re.MULTILINE)
    return match.group(1).split(",") if match else []


def _command_lines(command: list[str], depth: int, problems: list[str]) -> Iterator[str]:
    text, status = cli_help(command)
    if status != 0:
        problems.append(f"msign-soap {' '.join(command)} --help exited with {status}: {text.strip()}")
        return
    title = "``" + " ".join(["msign-soap", *command]) + "``"
    if command:
        yield f".. _command-{'-'.join(command)}:"
        yield ""
        yield title
        yield "-~^"[depth - 1] * len(title)
        yield ""
    yield "::"
    yield ""
    yield from ("    " + line if line else "" for line in text.rstrip().splitlines())
    yield ""
    for sub in _subcommands(text):
        yield from _command_lines([*command, sub], depth + 1, problems)


class CliDirective(SphinxDirective):
    """``.. msign-cli::`` — the help of every command, generated."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        problems: list[str] = []
        lines = list(_command_lines([], 0, problems))
        for problem in problems:
            self.reporter.warning(problem, line=self.lineno)
        container = nodes.section()
        nested_parse_with_titles(self.state, StringList(lines, self.get_source_info()[0]), container)
        return container.children


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("msign-settings", SettingsDirective)
    app.add_directive("msign-cli", CliDirective)
    app.add_directive("msign-demo-people", DemoPeopleDirective)
    app.add_directive("msign-operations", OperationsDirective)
    app.add_role("setting", setting_role)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
