"""Signature formats and their building blocks: XAdES, PAdES, time-stamps."""

from .pades import PadesDraft, count_signatures, finish_pades, prepare_pades, sign_pades_with_key
from .timestamp import DEMO_TSA_POLICY, HttpTimestamper, LocalTsa, Timestamper
from .xades import XadesDraft, finish_xades, prepare_xades, sign_xades_with_key

__all__ = [
    "DEMO_TSA_POLICY",
    "HttpTimestamper",
    "LocalTsa",
    "PadesDraft",
    "Timestamper",
    "XadesDraft",
    "count_signatures",
    "finish_pades",
    "finish_xades",
    "prepare_pades",
    "prepare_xades",
    "sign_pades_with_key",
    "sign_xades_with_key",
]
