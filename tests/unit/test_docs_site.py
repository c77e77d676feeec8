"""The documentation site's API reference lists every public name, and the README stays the
short front door whose links lead to pages that exist. (``make docs`` builds the site with
warnings as errors; this checks what a build would not notice missing.)"""

from __future__ import annotations

import re
from pathlib import Path

import spark_em
import spark_em.ml
import spark_em.mlflow

ROOT = Path(__file__).resolve().parents[2]
API = ROOT / "docs" / "api" / "index.rst"


def listed() -> dict[str, set[str]]:
    """The names each ``currentmodule`` section of the API index puts in an autosummary."""
    found: dict[str, set[str]] = {}
    module = None
    inside = False
    for line in API.read_text().splitlines():
        current = re.match(r"\.\. currentmodule:: (\S+)", line)
        if current:
            module = current.group(1)
        elif line.startswith(".. autosummary::"):
            inside = True
        elif inside and re.match(r"^   [A-Za-z_]\w*$", line):
            found.setdefault(module, set()).add(line.strip())
        elif inside and line and not line.startswith("   "):
            inside = False
    return found


def test_every_public_name_has_a_page_in_the_api_reference():
    pages = listed()
    documented = pages.get("spark_em.ml", set()) | pages.get("spark_em", set())
    assert set(spark_em.ml.__all__) - documented == set()
    assert set(spark_em.__all__) - documented == set()
    assert set(spark_em.mlflow.__all__) - pages.get("spark_em.mlflow", set()) == set()


def test_the_readme_is_short_and_its_links_lead_somewhere():
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 200
    targets = re.findall(r"\]\(((?!https?:)[^)#]+)(?:#[^)]*)?\)", text)
    assert targets, "the README links into the documentation"
    missing = [t for t in targets if not (ROOT / t).exists()]
    assert missing == []
