"""Long operations (fetching a batch's signatures, verifying them) run in a
background thread; their progress lives in the request's record, so that
the progress page — served by any thread or worker — reads it from there.

A record's ``job`` is ``{"kind", "title", "state": "running" | "done" |
"failed", "done", "total", "error", "started_at"}``; ``total`` 0 means not
known yet (the page shows an indeterminate bar). A job that was running when
its process died stays "running" until :data:`STALE_AFTER` has passed, then
counts as failed, so the user may start it again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from .errors import DemoError
from .store import Record, Store

__all__ = ["STALE_AFTER", "Jobs", "Progress", "is_running"]

log = logging.getLogger(__name__)

#: How long a job may run before the page offers to start it again.
STALE_AFTER = timedelta(minutes=15)

#: ``progress(done, total)`` — what a job calls as it goes.
Progress = Callable[[int, int], None]


def _now() -> datetime:
    return datetime.now(UTC)


def is_running(record: Record) -> bool:
    """Whether the record has a job running (and not stale)."""
    job = record.get("job")
    if not job or job.get("state") != "running":
        return False
    started = datetime.fromisoformat(job["started_at"])
    return _now() - started < STALE_AFTER


class Jobs:
    """Starts jobs on the records of ``store``; :meth:`wait` joins them (tests)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._threads: list[threading.Thread] = []
        self._guard = threading.Lock()

    def start(self, request_id: str, kind: str, title: str, work: Callable[[Progress], None]) -> bool:
        """Run ``work(progress)`` in a thread as the request's job; False (and
        nothing started) when one is running already."""
        started = False

        def claim(record: Record) -> None:
            nonlocal started
            if is_running(record):
                return
            record["job"] = {
                "kind": kind,
                "title": title,
                "state": "running",
                "done": 0,
                "total": 0,
                "error": None,
                "started_at": _now().isoformat(),
            }
            started = True

        self.store.update(request_id, claim)
        if not started:
            return False
        thread = threading.Thread(target=self._run, args=(request_id, work), name=f"demo-{kind}", daemon=True)
        with self._guard:
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()
        return True

    def _run(self, request_id: str, work: Callable[[Progress], None]) -> None:
        def progress(done: int, total: int) -> None:
            def change(record: Record) -> None:
                record["job"].update(done=done, total=total)

            self.store.update(request_id, change)

        try:
            work(progress)
        except DemoError as e:
            log.info("demo job on %s failed: %s", request_id, e)
            self._finish(request_id, "failed", str(e))
        except Exception:
            log.exception("demo job on %s failed", request_id)
            self._finish(request_id, "failed", "An unexpected error; see the e-service's log.")
        else:
            self._finish(request_id, "done", None)

    def _finish(self, request_id: str, state: str, error: str | None) -> None:
        def change(record: Record) -> None:
            record["job"].update(state=state, error=error)

        self.store.update(request_id, change)

    def wait(self, timeout: float | None = None) -> None:
        """Join every job started so far."""
        with self._guard:
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout)
