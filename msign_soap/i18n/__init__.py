"""Localized messages (ro, ru, en) from gettext catalogs read with Babel.

Message IDs are the English texts. Catalogs live in
``locale/<lang>/LC_MESSAGES/messages.po`` and are read once, on first use.
"""

from __future__ import annotations

import functools
import re
from importlib import resources

from babel.messages.pofile import read_po

__all__ = ["DEFAULT_LANGUAGE", "LANGUAGES", "N_", "normalize_language", "translate"]

#: The contract's default when no or an unknown language is asked for.
DEFAULT_LANGUAGE = "ro"
LANGUAGES = ("ro", "ru", "en")

_TAG = re.compile(r"[A-Za-z]{2,3}")


def N_(message: str) -> str:
    """Mark ``message`` for extraction without translating it now."""
    return message


def normalize_language(value: str | None) -> str:
    """Match a language leniently: ``RU``, ``ru-RU``, ``ru_MD`` → ``ru``.

    ``None``, empty and unknown values give :data:`DEFAULT_LANGUAGE`.
    """
    if value:
        match = _TAG.match(value.strip())
        if match and match.group(0).lower() in LANGUAGES:
            return match.group(0).lower()
    return DEFAULT_LANGUAGE


@functools.cache
def _catalog(language: str) -> dict[str, str]:
    path = resources.files(__name__) / "locale" / language / "LC_MESSAGES" / "messages.po"
    if not path.is_file():
        return {}
    with path.open("rb") as f:
        catalog = read_po(f, locale=language)
    # Plural forms (tuple ids) are not used by these catalogs.
    return {
        m.id: m.string
        for m in catalog
        if isinstance(m.id, str) and isinstance(m.string, str) and m.string and not m.fuzzy
    }


def translate(message: str, language: str | None) -> str:
    """``message`` in ``language`` (matched leniently), or as given if untranslated."""
    return _catalog(normalize_language(language)).get(message, message)
