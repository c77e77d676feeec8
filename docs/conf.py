"""Sphinx configuration of the spark-em documentation (``make docs``)."""

from __future__ import annotations

import inspect
import shutil
from pathlib import Path

import spark_em

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

# -- Project -------------------------------------------------------------------------------

project = "spark-em"
author = "The spark-em developers"
copyright = "The spark-em developers, Apache-2.0"
version = spark_em.__version__
release = spark_em.__version__

# -- The notebooks: copied from ../notebooks at build time (docs/notebooks is generated) ---


def _copy_notebooks() -> None:
    target = HERE / "notebooks"
    if target.exists():
        shutil.rmtree(target)
    target.mkdir()
    for notebook in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        shutil.copy2(notebook, target / notebook.name)


_copy_notebooks()

# -- Extensions ----------------------------------------------------------------------------

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
    "myst_nb",
]

source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
exclude_patterns = ["_build", "**.ipynb_checkpoints", "Thumbs.db", ".DS_Store"]
templates_path = ["_templates"]

# The notebooks are rendered with the outputs they were committed with.
nb_execution_mode = "off"
myst_enable_extensions = ["colon_fence", "dollarmath"]
myst_heading_anchors = 3

autosummary_generate = True
autodoc_typehints = "none"  # the numpydoc sections give the types
autodoc_member_order = "groupwise"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False

# -- Which members a class page documents ----------------------------------------------------
#
# A class's page documents what spark-em defines for it (on the class or on the spark-em
# classes it inherits from): its methods and properties, and every Param it has, pyspark's
# shared params included, with their getters. Of the machinery inherited from pyspark.ml
# unchanged it lists only what a user calls on every estimator and model (PYSPARK_KEPT); the
# rest (``Params.explainParam``, ``Params.extractParamMap``, ...) is pyspark's and documented
# there. A summary's figures are listed in its class docstring's Attributes.


def _owner(cls, name):
    return next((k for k in cls.__mro__ if name in vars(k)), None)


def _escaped(text: str) -> str:
    """Plain text as reStructuredText: the characters markup gives a meaning escaped."""
    for char in "\\*`|_":
        text = text.replace(char, "\\" + char)
    return text


# What pyspark.ml gives every estimator and model that its pages list too: the methods a user
# calls on it, and the getters of pyspark's shared params it has.
PYSPARK_KEPT = {"transform", "save", "load", "copy"}


def _pyspark_kept(cls, name) -> bool:
    from pyspark.ml.param import Param

    if name in PYSPARK_KEPT:
        return True
    param = name[3:4].lower() + name[4:]
    return name.startswith("get") and isinstance(getattr(cls, param, None), Param)


def _members_of(cls) -> dict[str, list]:
    """The methods, properties and params a class's page lists."""
    from pyspark.ml.param import Param

    methods, properties, params = [], [], []
    for name in sorted(dir(cls)):
        owner = _owner(cls, name)
        if name.startswith("_") or owner is None:
            continue
        value = vars(owner)[name]
        if isinstance(value, Param):
            text = value.doc[:1].upper() + value.doc[1:]
            params.append((name, _escaped(text.rstrip(".") + ".")))
        elif not (owner.__module__.startswith("spark_em") or _pyspark_kept(cls, name)):
            continue
        elif isinstance(value, (staticmethod, classmethod)) or inspect.isfunction(value):
            methods.append(name)
        elif isinstance(value, property):
            properties.append(name)
    return {"methods": methods, "properties": properties, "params": params}


def _class_members() -> dict[str, dict[str, list]]:
    import spark_em.ml

    out = {}
    for module in (spark_em, spark_em.ml):
        for name in module.__all__:
            value = getattr(module, name)
            if inspect.isclass(value):
                out[f"{module.__name__}.{name}"] = _members_of(value)
    return out


autosummary_context = {"class_members": _class_members()}


# -- HTML ----------------------------------------------------------------------------------

html_theme = "pydata_sphinx_theme"
html_title = f"spark-em {release}"
html_static_path: list[str] = []
html_theme_options = {
    "github_url": "https://github.com/spark-em/spark-em",
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "header_links_before_dropdown": 6,
}
html_context = {"default_mode": "light"}
