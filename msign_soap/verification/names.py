"""A certificate subject in the display form of the MSign contract.

``VerificationCertificate.Subject`` is written the way .NET's
``X500DistinguishedName.Name`` writes a name (Windows ``CertNameToStr`` with
``CERT_X500_NAME_STR | CERT_NAME_STR_REVERSE_FLAG``): the relative
distinguished names last-encoded first, separated by ``", "``; the
attributes of a multi-valued RDN joined by ``" + "``; each as ``KEY=value``
with the short keys of that API (``CN``, ``SERIALNUMBER``, ``L``, ``S``,
``STREET``, ``T``, ``PostalCode``, ``Phone``, ``C``, ``OU``, ``O``, ``G``,
``SN``, ``E``, ``DC``) and ``OID.<dotted>`` for any other attribute type. A
value is put in double quotes (inner quotes doubled) when it is empty,
starts or ends with white space, or holds one of ``, + = " < > # ;`` or a
line break, as ``CertNameToStr`` does.

The contract's sample (subject encoded CN first)::

    O=…, OU=IT, C=MD, PostalCode=…, T=Functia, STREET=…, Phone=…, S=…, L=…, SERIALNUMBER=IDNP, CN=Nume Prenume

Left out: the 250-character limit of ``Subject`` (the caller cuts), and the
other short names Windows knows (``I``, ``Description``, ``POBox``, …), which
appear here as ``OID.x.y.z``.
"""

from __future__ import annotations

from cryptography import x509

__all__ = ["display_name", "display_subject"]

#: Attribute types by dotted OID, as .NET names them.
SHORT_NAMES = {
    "2.5.4.3": "CN",
    "2.5.4.5": "SERIALNUMBER",
    "2.5.4.7": "L",
    "2.5.4.8": "S",
    "2.5.4.9": "STREET",
    "2.5.4.12": "T",
    "2.5.4.17": "PostalCode",
    "2.5.4.20": "Phone",
    "2.5.4.6": "C",
    "2.5.4.11": "OU",
    "2.5.4.10": "O",
    "2.5.4.42": "G",
    "2.5.4.4": "SN",
    "1.2.840.113549.1.9.1": "E",
    "0.9.2342.19200300.100.1.25": "DC",
}

_QUOTE_TRIGGERS = frozenset(',+="<>#;\n\r')


def _value(value: str | bytes) -> str:
    if isinstance(value, bytes):  # a BIT STRING attribute (x500UniqueIdentifier)
        return "#" + value.hex().upper()
    if not value or value != value.strip() or not _QUOTE_TRIGGERS.isdisjoint(value):
        return '"' + value.replace('"', '""') + '"'
    return value


def _attribute(attribute: x509.NameAttribute) -> str:
    oid = attribute.oid.dotted_string
    return f"{SHORT_NAMES.get(oid, 'OID.' + oid)}={_value(attribute.value)}"


def display_name(name: x509.Name) -> str:
    """The contract's display form of a distinguished name (see the module docstring)."""
    return ", ".join(" + ".join(_attribute(a) for a in rdn) for rdn in reversed(name.rdns))


def display_subject(certificate: x509.Certificate) -> str:
    """The contract's display form of a certificate's subject."""
    return display_name(certificate.subject)
