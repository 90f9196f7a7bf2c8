"""What a verifier needs from the service's trust configuration.

:class:`Trust` is a structural type so that verification does not depend on
:mod:`msign_soap.core`: :class:`msign_soap.core.trust.ChainChecker`
implements it (the demo PKI's checker in tests and the embedded default, the
``trust_anchors`` / ``revocation`` settings in production).

:func:`validation_context_at` turns a context of a :class:`Trust` into one
for validating at a past moment (a time-stamp's time) with the revocation
data of today.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Protocol

from pyhanko_certvalidator import ValidationContext

__all__ = ["Trust", "validation_context_at"]


class Trust(Protocol):
    """Trust anchors, revocation sources and the fetch policy of a verifier."""

    def validation_context(self, moment: datetime | None = None) -> ValidationContext:
        """A fresh certvalidator context (used once) validating at ``moment``
        (``None``: now), with the anchors, intermediates and revocation sources."""
        ...

    def screen_fetch_urls(self, certificates: Iterable[bytes]) -> None:
        """Refuse certificates (DER) whose revocation or issuer URLs would make a
        validation fetch from a non-public address.

        :raises ~msign_soap.errors.SignerRejected: for such a certificate.
        """
        ...


def validation_context_at(trust: Trust, moment: datetime) -> ValidationContext:
    """A fresh context of ``trust`` (its anchors, certificates, revocation
    sources and fetchers) validating at ``moment`` (naive means UTC).

    Revocation data issued after ``moment`` counts (certvalidator's
    ``retroactive_revinfo``): a CRL or OCSP response fetched today answers
    whether a certificate was revoked at ``moment``, a revocation dated later
    does not make it revoked then. Without this, certvalidator judges today's
    CRL "too recent" for a past moment and, in soft-fail mode, ignores it.
    The price: a certificate on hold at ``moment`` and released since is
    taken as never held.
    """
    aware = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
    base = trust.validation_context(aware)
    return ValidationContext(
        moment=aware,
        trust_manager=base.path_builder.trust_manager,
        certificate_registry=base.certificate_registry,
        revinfo_manager=base.revinfo_manager,
        revinfo_policy=dataclasses.replace(base.revinfo_policy, retroactive_revinfo=True),
        algorithm_usage_policy=base.algorithm_policy,
        time_tolerance=base.time_tolerance,
    )
