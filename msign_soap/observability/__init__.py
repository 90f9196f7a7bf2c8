"""Operations: metrics, health and readiness endpoints, structured logs.

The modules re-exported here import nothing else of the service, so that
the core may count and annotate; :mod:`.readiness` and :mod:`.endpoints`
(which reach the database, the TSA, the MSSP) are imported by the
application that mounts them.
"""

from .context import CallContext, annotate, annotate_request_id, bind, current, reset
from .logs import LOG_FORMATS, JsonFormatter, use_log_format
from .metrics import CONTENT_TYPE, Counter, Histogram, Registry
from .service_metrics import UNKNOWN, ServiceMetrics

__all__ = [
    "CONTENT_TYPE",
    "LOG_FORMATS",
    "UNKNOWN",
    "CallContext",
    "Counter",
    "Histogram",
    "JsonFormatter",
    "Registry",
    "ServiceMetrics",
    "annotate",
    "annotate_request_id",
    "bind",
    "current",
    "reset",
    "use_log_format",
]
