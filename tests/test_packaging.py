"""The wheel ships every template: `pip install .` (not -e) reads them from the package, not the checkout."""

from __future__ import annotations

import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent


def test_every_template_file_is_package_data():
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    folder = ROOT / setuptools["package-dir"]["symbackprop.templates"]
    shipped = {path for pattern in setuptools["package-data"]["symbackprop.templates"] for path in folder.glob(pattern)}
    templates = {path for path in folder.rglob("*") if path.is_file()}
    assert templates and templates <= shipped, sorted(str(p.relative_to(folder)) for p in templates - shipped)
