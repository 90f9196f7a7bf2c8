"""Log lines as JSON objects, one per line, keyed by RequestID.

:class:`JsonFormatter` writes each record as ``{"time", "level", "logger",
"message"}`` plus ``request_id`` and ``consumer`` when known — from the
record (``extra={"request_id": …}``), else from the current call's
:class:`~msign_soap.observability.context.CallContext` — and ``exc_info``
(the formatted traceback) when there is one. The context is read when the
record is formatted, so it is the caller's with the standard handlers
(which format in the logging thread); a handler that formats in another
thread (``QueueListener``) sees no context, only what ``extra`` gave.

``msign-soap serve --log-format json`` (or ``log_format = "json"``) installs
it on the root logger's handlers (:func:`use_log_format`).
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from ..config import LOG_FORMATS
from .context import current

__all__ = ["LOG_FORMATS", "TEXT_FORMAT", "JsonFormatter", "use_log_format"]

#: The ``text`` format (``msign-soap``'s default).
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line (UTF-8, newlines escaped)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        context = current()
        request_id = getattr(record, "request_id", None) or (context.request_id if context else None)
        if request_id:
            entry["request_id"] = str(request_id)
        consumer = getattr(record, "consumer", None) or (context.consumer if context else None)
        if consumer:
            entry["consumer"] = str(consumer)
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exc_info"] = record.exc_text
        if record.stack_info:
            entry["stack_info"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def use_log_format(log_format: str, logger: logging.Logger | None = None) -> None:
    """Give the handlers of ``logger`` (the root logger) the ``text`` or ``json`` formatter.

    :raises ValueError: another format.
    """
    if log_format not in LOG_FORMATS:
        raise ValueError(f"log_format must be one of {', '.join(LOG_FORMATS)}, not {log_format!r}")
    formatter = JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)
    for handler in (logger or logging.getLogger()).handlers:
        handler.setFormatter(formatter)
