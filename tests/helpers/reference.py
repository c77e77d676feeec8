"""The course's expected results, read from ../shared/data/netflix/test_solutions.txt."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np


def _array(text: str) -> np.ndarray:
    rows = re.findall(r"\[([^\[\]]+)\]", text)
    return np.array([[float(v) for v in row.split()] for row in rows]).squeeze()


def _field(section: str, name: str) -> str:
    """The text after ``name:`` up to the next field label."""
    match = re.search(rf"^{name}:(.*?)(?=^\w[\w ]*:|\Z)", section, re.S | re.M)
    if not match:
        raise KeyError(name)
    return match.group(1)


def load(path: Path) -> dict:
    text = path.read_text()
    first_e = text[text.index("After first E-step") : text.index("After first M-step")]
    first_m = text[text.index("After first M-step") : text.index("After a run")]
    run = text[text.index("After a run") :]
    start = text[: text.index("After first E-step")]
    return {
        "K": int(_field(start, "K")),
        "init": dict(
            mu=_array(_field(start, "Mu")),
            var=_array(_field(start, "Var")),
            p=_array(_field(start, "P")),
        ),
        "first_post": _array(_field(first_e, "post")),
        "first_ll": float(_field(first_e, "LL")),
        "first_m": dict(
            mu=_array(_field(first_m, "Mu")),
            var=_array(_field(first_m, "Var")),
            p=_array(_field(first_m, "P")),
        ),
        "run": dict(
            mu=_array(_field(run, "Mu")),
            var=_array(_field(run, "Var")),
            p=_array(_field(run, "P")),
            post=_array(_field(run, "post")),
            ll=float(_field(run, "LL")),
        ),
        "X_pred": _array(_field(run, "X_pred")),
        "rmse": float(_field(run, "RMSE")),
    }
