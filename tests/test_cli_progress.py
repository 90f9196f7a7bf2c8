"""Progress lines of long ``msign-soap`` commands: on a terminal only, erased when done."""

from __future__ import annotations

import io
import time

import pytest

from msign_soap import cli_progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_sees_the_work_and_the_line_is_erased(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli_progress, "DELAY", 0.0)
    out = Terminal()
    with cli_progress.working("Verifying contract.pdf", out):
        deadline = time.monotonic() + 30
        while "Verifying contract.pdf… " not in out.getvalue() and time.monotonic() < deadline:
            time.sleep(0.01)
    text = out.getvalue()
    assert "\rVerifying contract.pdf… 0 s " in text
    assert text.endswith("\r")  # blanked, the cursor back at the start of the line


def test_scripts_see_nothing() -> None:
    out = io.StringIO()
    with cli_progress.working("Verifying", out):
        pass
    assert out.getvalue() == ""


def test_quick_work_shows_nothing() -> None:
    out = Terminal()
    with cli_progress.working("Verifying", out):
        pass
    assert out.getvalue() == ""
