"""Sphinx configuration of the msign-soap documentation.

Built by ``tests/test_docs.py`` (so by ``./scripts/test`` and CI) with
warnings as errors::

    python -m sphinx -W --keep-going -b html docs docs/_build/html

No network: intersphinx is off, the theme is Sphinx's own ``alabaster``.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
# the local extension (the settings table, the command reference) and the package itself
sys.path[:0] = [str(HERE / "_ext"), str(HERE.parent)]

import msign_soap  # noqa: E402 - after the path is set

project = "msign-soap"
author = "msign-soap contributors"
copyright = "msign-soap contributors"  # noqa: A001 - Sphinx's name for it
release = msign_soap.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "msign_docs",
]

root_doc = "index"
exclude_patterns = ["_build"]
templates_path: list[str] = []
language = "en"
# reST literals (``x``) are code, not a reference target
default_role = "literal"
highlight_language = "none"

# autodoc: the signatures stay short, the types go into the parameter lists
autodoc_typehints = "description"
autodoc_typehints_description_target = "documented"
autodoc_member_order = "bysource"
# members are listed per directive (a default "members" would override an explicit list)
autoclass_content = "both"
# the package's own type names are left as written; only resolvable ones link
nitpicky = False

html_theme = "alabaster"
html_theme_options = {
    "description": "The MSign SOAP contract, self-hosted",
    "fixed_sidebar": False,
    "show_powered_by": False,
    "page_width": "1160px",
    "body_max_width": "none",
}
html_title = f"msign-soap {release}"
html_show_sourcelink = False
html_static_path = ["_static"]
html_css_files = ["msign.css"]
