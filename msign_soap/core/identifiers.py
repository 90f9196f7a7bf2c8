"""Identifiers: request IDs and the Moldovan IDNP/IDNO."""

from __future__ import annotations

import secrets

__all__ = ["is_valid_idn", "new_request_id"]

_WEIGHTS = (7, 3, 1)


def new_request_id() -> str:
    """An unguessable request ID: 128 random bits as 32 lowercase hex digits."""
    return secrets.token_hex(16)


def is_valid_idn(value: str) -> bool:
    """Whether ``value`` is a well-formed IDNP (person) or IDNO (organization).

    Both are 13 digits whose last digit is the sum of the first twelve weighted
    7, 3, 1, 7, 3, 1, … modulo 10 (the check python-stdnum's ``stdnum.md.idno``
    performs).
    """
    if len(value) != 13 or not value.isascii() or not value.isdigit():
        return False
    total = sum(int(d) * _WEIGHTS[i % 3] for i, d in enumerate(value[:12]))
    return total % 10 == int(value[12])
