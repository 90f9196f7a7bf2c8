"""Progress of ``msign-soap`` commands that take more than a moment.

On a terminal, :func:`working` shows what is being done and the seconds
spent, on one standard-error line that is erased when the work ends; when
standard error is not a terminal (scripts, CI logs), it shows nothing.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

__all__ = ["working"]

#: Seconds before the line appears: quick work shows nothing.
DELAY = 1.0


@contextmanager
def working(what: str, stream: TextIO | None = None) -> Iterator[None]:
    """Show ``what…`` and the elapsed seconds while the block runs (on a terminal)."""
    out = stream or sys.stderr
    if not out.isatty():
        yield
        return
    done = threading.Event()
    start = time.monotonic()

    def show() -> None:
        if done.wait(DELAY):
            return
        while True:
            out.write(f"\r{what}… {time.monotonic() - start:.0f} s ")
            out.flush()
            if done.wait(1.0):
                out.write("\r" + " " * (len(what) + 12) + "\r")
                out.flush()
                return

    thread = threading.Thread(target=show, name="progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
