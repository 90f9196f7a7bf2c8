"""The faster hex-string reader gives pyHanko's own results and errors."""

from __future__ import annotations

import io
import random

import pytest
from pyhanko.pdf_utils.misc import PdfStreamError

from msign_soap.verification import pdf_speedups


def both(data: bytes) -> tuple[object, object]:
    """(result or error type, position after) of each reader on ``data``."""
    outcomes = []
    for reader in (pdf_speedups._original, pdf_speedups.read_hex_string_from_stream):
        stream = io.BytesIO(data)
        try:
            value: object = reader(stream)
            value = (type(value).__name__, bytes(value.original_bytes if hasattr(value, "original_bytes") else value))
        except PdfStreamError as e:
            value = type(e)
        outcomes.append((value, stream.tell()))
    return outcomes[0], outcomes[1]


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"<48656c6c6f> tail", id="plain"),
        pytest.param(b"<48 65\n6c\r6c\t6f\x0c\x00> tail", id="whitespace"),
        pytest.param(b"<486>", id="odd"),
        pytest.param(b"<>", id="empty"),
        pytest.param(b"<4865 % a comment\n6c>x", id="comment"),
        pytest.param(b"<48zz>", id="bad-character"),
        pytest.param(b"<4865", id="no-end"),
        pytest.param(b"<" + b"ab" * 40_000 + b">rest", id="large"),
        pytest.param(b"<" + b"a" * (64 * 1024 - 1) + b">" + b"b" * 10, id="end-at-block-boundary"),
        pytest.param(b"<" + b"a" * (64 * 1024) + b">", id="end-after-block"),
    ],
)
def test_same_as_pyhanko(data):
    original, fast = both(data)
    assert fast == original


def test_same_as_pyhanko_on_random_strings():
    rng = random.Random(7)
    alphabet = b"0123456789abcdefABCDEF \n\r\t%>xg"
    for _ in range(500):
        body = bytes(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        data = b"<" + body + b">" + bytes(rng.choice(alphabet) for _ in range(5))
        original, fast = both(data)
        assert fast == original, data


def test_install_replaces_the_parsers_reader():
    from pyhanko.pdf_utils import generic

    pdf_speedups.install()
    assert generic.read_hex_string_from_stream is pdf_speedups.read_hex_string_from_stream


def _name(**attributes: str) -> object:
    from asn1crypto import x509 as asn1_x509

    return asn1_x509.Name.build(attributes)


@pytest.mark.parametrize(
    ("left", "right", "equal"),
    [
        pytest.param({"common_name": "Ion Popescu"}, {"common_name": "Ion Popescu"}, True, id="same-der"),
        pytest.param({"common_name": "Ion Popescu"}, {"common_name": "ion  popescu"}, True, id="rfc5280-caseless"),
        pytest.param({"common_name": "Ion Popescu"}, {"common_name": "Maria Rusu"}, False, id="different"),
        pytest.param(
            {"common_name": "Ion Popescu", "serial_number": "2004001234567"},
            {"common_name": "Ion Popescu"},
            False,
            id="more-attributes",
        ),
        pytest.param(
            {"common_name": "Ion", "organization_name": "Popescu"},
            {"common_name": "Popescu", "organization_name": "Ion"},
            False,
            id="values-swapped",
        ),
    ],
)
def test_name_equality_is_asn1cryptos(left, right, equal):
    a, b = _name(**left), _name(**right)
    assert pdf_speedups._original_name_eq(a, b) is equal  # the rule itself
    assert pdf_speedups.name_equal(a, b) is equal
    assert pdf_speedups.name_equal(a, "not a name") is False
    for _ in range(2):  # computed, then remembered
        assert pdf_speedups.name_hashable(a) == pdf_speedups._original_name_hashable.fget(a)
        assert pdf_speedups.name_hashable(b) == pdf_speedups._original_name_hashable.fget(b)


def test_remembered_names_are_bounded(monkeypatch):
    monkeypatch.setattr(pdf_speedups, "_NORMALIZED", {})
    monkeypatch.setattr(pdf_speedups, "_NORMALIZED_MAX", 3)
    names = [_name(common_name=f"Person {i}") for i in range(10)]
    for name in names:
        assert pdf_speedups.name_hashable(name) == pdf_speedups._original_name_hashable.fget(name)
        assert len(pdf_speedups._NORMALIZED) <= 3
