"""Validation data for PAdES verification: the Document Security Store of a
PDF (ETSI EN 319 142-1 §5.4.2, ISO 32000-2 §12.8.4.3) and the certvalidator
contexts that use it together with a verifier's
:class:`~msign_soap.verification.trust.Trust`.

Left out: the DSS's ``/VRI`` dictionaries (all of the DSS's data is offered
for every signature; certvalidator picks what applies) and its time-stamps
(``/TS`` of VRI entries).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from asn1crypto import cms
from asn1crypto import crl as asn1_crl
from asn1crypto import ocsp as asn1_ocsp
from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils.decode_limits import DecodePurpose
from pyhanko.pdf_utils.rw_common import PdfHandler
from pyhanko.sign.validation import DocumentSecurityStore
from pyhanko.sign.validation.errors import NoDSSFoundError
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.revinfo.archival import process_legacy_crl_input, process_legacy_ocsp_input
from pyhanko_certvalidator.revinfo.manager import RevinfoManager

from ..signing.pades import PDF_DAMAGE
from .trust import Trust

__all__ = ["PDF_DAMAGE", "ValidationData", "certificates_in", "contexts", "read_dss"]


@dataclass
class ValidationData:
    """Certificates, CRLs and OCSP responses a document carries."""

    certificates: list[asn1_x509.Certificate] = field(default_factory=list)
    crls: list[asn1_crl.CertificateList] = field(default_factory=list)
    ocsps: list[asn1_ocsp.OCSPResponse] = field(default_factory=list)

    def covers(self, certificate: asn1_x509.Certificate) -> bool:
        """Is there revocation data about ``certificate`` (a CRL of its issuer,
        or an OCSP response about its serial number)?"""
        issuer = certificate.issuer
        if any(c["tbs_cert_list"]["issuer"] == issuer for c in self.crls):
            return True
        for response in self.ocsps:
            for single in _ocsp_singles(response):
                if single["cert_id"]["serial_number"].native == certificate.serial_number:
                    return True
        return False


def read_dss(handler: PdfHandler) -> ValidationData:
    """The DSS of the document (or of the revision a historical resolver
    shows). A damaged DSS counts as none: it only adds validation data, and
    the difference analysis still judges the update that wrote it.
    """
    try:
        store = DocumentSecurityStore.read_dss(handler)
        data = ValidationData(list(store.load_certs()))
        for ref in store.crls:
            data.crls.append(asn1_crl.CertificateList.load(ref.get_object().read_data(DecodePurpose.CRL)))
        for ref in store.ocsps:
            data.ocsps.append(asn1_ocsp.OCSPResponse.load(ref.get_object().read_data(DecodePurpose.OCSP_RESPONSE)))
        for item in (*data.certificates, *data.crls, *data.ocsps):
            item.native  # noqa: B018 - asn1crypto parses lazily; damage shows here
    except NoDSSFoundError:
        return ValidationData()
    except PDF_DAMAGE:
        return ValidationData()
    return data


def contexts(trust: Trust, data: ValidationData, *moments: datetime | None) -> list[ValidationContext]:
    """Fresh contexts validating at each of ``moments`` (``None``: now).

    They share one context of the trust: its anchors, certificates,
    revocation data and fetchers (what one fetches the others reuse, within
    the trust's fetch limits), to which ``data`` is added. Revocation data
    issued after a moment counts as evidence about that moment
    (certvalidator's ``retroactive_revinfo``): today's CRL says whether a
    certificate was revoked when a time-stamp says it signed. The price: a
    certificate on hold then and released since counts as never held.

    The trust's context is rebuilt around its parts because certvalidator
    has no way to add revocation data to a context or change its policy; its
    fetchers are taken from the revocation manager's private attribute
    (pyhanko-certvalidator 0.33; ``tests/test_verify_pades.py`` checks that
    fetching still happens).
    """
    base = trust.validation_context(moments[0])
    registry = base.certificate_registry
    registry.register_multiple(data.certificates)
    manager = base.revinfo_manager
    revinfo = RevinfoManager(
        certificate_registry=registry,
        poe_manager=manager.poe_manager,
        crls=process_legacy_crl_input([*manager.crls, *data.crls]),
        ocsps=process_legacy_ocsp_input([*manager.ocsps, *data.ocsps]),
        fetchers=manager._fetchers if manager.fetching_allowed else None,
    )
    policy = dataclasses.replace(base.revinfo_policy, retroactive_revinfo=True)
    return [
        ValidationContext(
            trust_manager=base.path_builder.trust_manager,
            certificate_registry=registry,
            revinfo_manager=revinfo,
            revinfo_policy=policy,
            moment=moment,
            algorithm_usage_policy=base.algorithm_policy,
            time_tolerance=base.time_tolerance,
        )
        for moment in moments
    ]


class OneDocumentTrust:
    """``trust`` for the signatures of one document: their contexts share the
    fetchers of the first one, and certvalidator's fetchers keep what they
    fetched, so five co-signatures cost one CRL download and one OCSP answer
    per certificate, not five of each. (The fetchers are swapped in through
    the revocation manager's private attribute, as :func:`contexts` reads them.)
    """

    def __init__(self, trust: Trust) -> None:
        self.trust = trust
        self._fetchers: Any = None

    def screen_fetch_urls(self, certificates: Iterable[bytes]) -> None:
        self.trust.screen_fetch_urls(certificates)

    def validation_context(self, moment: datetime | None = None) -> ValidationContext:
        context = self.trust.validation_context(moment)
        manager = context.revinfo_manager
        if manager.fetching_allowed:
            if self._fetchers is None:
                self._fetchers = manager._fetchers
            else:
                manager._fetchers = self._fetchers
        return context


def certificates_in(*signed_data: cms.SignedData, data: ValidationData) -> list[bytes]:
    """Every certificate (DER) in these CMS structures and in ``data``, the
    certificates in its OCSP responses included: what
    :meth:`~msign_soap.verification.trust.Trust.screen_fetch_urls` must see."""
    found: dict[bytes, None] = {}
    for sd in signed_data:
        for choice in sd["certificates"] or ():
            if choice.name == "certificate":
                found.setdefault(choice.chosen.dump())
    for certificate in data.certificates:
        found.setdefault(certificate.dump())
    for response in data.ocsps:
        for certificate in _ocsp_certificates(response):
            found.setdefault(certificate.dump())
    return list(found)


def _ocsp_basic(response: asn1_ocsp.OCSPResponse) -> asn1_ocsp.BasicOCSPResponse | None:
    if response["response_status"].native != "successful":
        return None
    body = response["response_bytes"]
    if body["response_type"].native != "basic_ocsp_response":
        return None
    parsed: asn1_ocsp.BasicOCSPResponse = body["response"].parsed
    return parsed


def _ocsp_singles(response: asn1_ocsp.OCSPResponse) -> Iterable[asn1_ocsp.SingleResponse]:
    basic = _ocsp_basic(response)
    return basic["tbs_response_data"]["responses"] if basic is not None else ()


def _ocsp_certificates(response: asn1_ocsp.OCSPResponse) -> Iterable[asn1_x509.Certificate]:
    basic = _ocsp_basic(response)
    return basic["certs"] or () if basic is not None else ()
