"""Counters and histograms, written in the Prometheus text exposition format 0.0.4.

A small, dependency-free subset of what ``prometheus_client`` offers: labelled
:class:`Counter` and :class:`Histogram` series kept in a :class:`Registry`,
thread-safe, rendered by :meth:`Registry.exposition`. Label values are given
positionally, in the order of the metric's label names, which keeps the hot
path to a tuple, a lock and a dictionary update.

Values live in the process that counts them: under several worker processes
(gunicorn) each worker exposes its own, as ``prometheus_client`` does by
default, and Prometheus sums the workers' series. Left out: gauges,
summaries, exemplars, the OpenMetrics format, ``prometheus_client``'s
multiprocess mode (shared files) and timestamps on samples.
"""

from __future__ import annotations

import bisect
import math
import threading
from collections.abc import Iterator, Sequence
from typing import TypeVar

__all__ = ["CONTENT_TYPE", "DEFAULT_BUCKETS", "Counter", "Histogram", "Registry"]

#: The ``Content-Type`` of :meth:`Registry.exposition`.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
#: Upper bounds (seconds) of a latency histogram: 1 ms to 30 s.
DEFAULT_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _number(value: float) -> str:
    """A sample value as the format writes it (``+Inf``, whole numbers without ``.0``)."""
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    if float(value).is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(float(value))


def _labels(names: Sequence[str], values: Sequence[str], extra: str = "") -> str:
    pairs = [f'{name}="{_escape_label(value)}"' for name, value in zip(names, values, strict=True)]
    if extra:
        pairs.append(extra)
    return "{" + ",".join(pairs) + "}" if pairs else ""


class _Metric:
    kind = ""

    def __init__(self, name: str, documentation: str, labelnames: Sequence[str] = ()) -> None:
        self.name = name
        self.documentation = documentation
        self.labelnames = tuple(labelnames)
        self._lock = threading.Lock()

    def _check(self, labels: tuple[str, ...]) -> None:
        if len(labels) != len(self.labelnames):
            raise ValueError(f"{self.name} takes the labels {self.labelnames}, not {labels}")

    def header(self) -> list[str]:
        return [f"# HELP {self.name} {_escape_help(self.documentation)}", f"# TYPE {self.name} {self.kind}"]

    def lines(self) -> list[str]:  # pragma: no cover - each kind writes its own
        raise NotImplementedError


class Counter(_Metric):
    """A value that only goes up, per combination of label values.

    :param name: the metric's name (``…_total`` for a counter).
    :param documentation: the ``# HELP`` text.
    :param labelnames: the names of its labels.
    """

    kind = "counter"

    def __init__(self, name: str, documentation: str, labelnames: Sequence[str] = ()) -> None:
        super().__init__(name, documentation, labelnames)
        self._values: dict[tuple[str, ...], float] = {}

    def inc(self, *labels: str, amount: float = 1) -> None:
        """Add ``amount`` (at least 0) to the series of ``labels``.

        :raises ValueError: a negative amount, or not one value per label name.
        """
        if amount < 0:
            raise ValueError(f"{self.name} only goes up, not by {amount}")
        self._check(labels)
        with self._lock:
            self._values[labels] = self._values.get(labels, 0) + amount

    def value(self, *labels: str) -> float:
        """The current value of the series of ``labels`` (0 when never counted)."""
        with self._lock:
            return self._values.get(labels, 0)

    def lines(self) -> list[str]:
        with self._lock:
            values = sorted(self._values.items())
        return [f"{self.name}{_labels(self.labelnames, labels)} {_number(value)}" for labels, value in values]


class _HistogramSeries:
    __slots__ = ("counts", "total")

    def __init__(self, size: int) -> None:
        self.counts = [0] * size  # per bucket, not cumulative; the last one is +Inf
        self.total = 0.0


class Histogram(_Metric):
    """Observations counted into buckets, per combination of label values;
    written as cumulative ``_bucket{le=…}`` series with ``_sum`` and ``_count``.

    :param buckets: the finite upper bounds, increasing (``+Inf`` is added).
    """

    kind = "histogram"

    def __init__(
        self, name: str, documentation: str, labelnames: Sequence[str] = (), buckets: Sequence[float] = DEFAULT_BUCKETS
    ) -> None:
        if "le" in labelnames:
            raise ValueError("a histogram's own label is le")
        bounds = [float(b) for b in buckets if not math.isinf(b)]
        if not bounds or bounds != sorted(set(bounds)):
            raise ValueError(f"{name}: buckets must be increasing numbers, not {buckets}")
        super().__init__(name, documentation, labelnames)
        self.bounds = tuple(bounds)
        self._series: dict[tuple[str, ...], _HistogramSeries] = {}

    def observe(self, value: float, *labels: str) -> None:
        """Count ``value`` in the series of ``labels``.

        :raises ValueError: not one value per label name.
        """
        index = bisect.bisect_left(self.bounds, value)  # the first bound >= value: le is inclusive
        self._check(labels)
        with self._lock:
            series = self._series.get(labels)
            if series is None:
                series = self._series[labels] = _HistogramSeries(len(self.bounds) + 1)
            series.counts[index] += 1
            series.total += value

    def counts(self, *labels: str) -> tuple[list[int], float]:
        """The cumulative bucket counts (the last one is ``+Inf``, the total
        count) and the sum of the series of ``labels``."""
        with self._lock:
            series = self._series.get(labels)
            counts, total = (list(series.counts), series.total) if series else ([0] * (len(self.bounds) + 1), 0.0)
        running = 0
        for i, count in enumerate(counts):
            running += count
            counts[i] = running
        return counts, total

    def lines(self) -> list[str]:
        with self._lock:
            keys = sorted(self._series)
        out: list[str] = []
        for labels in keys:
            counts, total = self.counts(*labels)
            for bound, count in zip((*self.bounds, math.inf), counts, strict=True):
                le = f'le="{_number(bound) if math.isinf(bound) else repr(bound)}"'
                out.append(f"{self.name}_bucket{_labels(self.labelnames, labels, le)} {count}")
            out.append(f"{self.name}_sum{_labels(self.labelnames, labels)} {_number(total)}")
            out.append(f"{self.name}_count{_labels(self.labelnames, labels)} {counts[-1]}")
        return out


_M = TypeVar("_M", bound=_Metric)


class Registry:
    """The metrics of one service, in the order they were made."""

    def __init__(self) -> None:
        self._metrics: dict[str, _Metric] = {}
        self._lock = threading.Lock()

    def counter(self, name: str, documentation: str, labelnames: Sequence[str] = ()) -> Counter:
        """A new counter in this registry.

        :raises ValueError: the name is taken.
        """
        return self._add(Counter(name, documentation, labelnames))

    def histogram(
        self, name: str, documentation: str, labelnames: Sequence[str] = (), buckets: Sequence[float] = DEFAULT_BUCKETS
    ) -> Histogram:
        """A new histogram in this registry.

        :raises ValueError: the name is taken, or the buckets are not increasing.
        """
        return self._add(Histogram(name, documentation, labelnames, buckets))

    def _add(self, metric: _M) -> _M:
        with self._lock:
            if metric.name in self._metrics:
                raise ValueError(f"a metric named {metric.name} exists")
            self._metrics[metric.name] = metric
        return metric

    def __iter__(self) -> Iterator[_Metric]:
        with self._lock:
            return iter(list(self._metrics.values()))

    def exposition(self) -> bytes:
        """Every metric in the text format 0.0.4 (:data:`CONTENT_TYPE`)."""
        lines: list[str] = []
        for metric in self:
            lines += metric.header()
            lines += metric.lines()
        return ("\n".join(lines) + "\n").encode()
