"""Reading X.509 certificates from files (PEM with one or more, or DER)."""

from __future__ import annotations

import os

from cryptography import x509

from ..errors import ConfigurationError

__all__ = ["load_certificates"]


def load_certificates(path: str | os.PathLike[str], setting: str | None = None) -> list[x509.Certificate]:
    """Read the certificates of a PEM file (one or more) or a DER file (one).

    :param path: the file.
    :param setting: the configuration setting that named the file, for messages.
    :return: the certificates, in file order.
    :raises ConfigurationError: when the file cannot be read or holds none.
    """
    prefix = f"{setting}: " if setting else ""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise ConfigurationError(f"{prefix}cannot read certificates from {path}: {e.strerror}") from e
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_certificates(data)
        return [x509.load_der_x509_certificate(data)]
    except ValueError as e:
        raise ConfigurationError(f"{prefix}{path} holds no readable certificate") from e
