"""What is optional stays optional: PySpark (a Spark installation provides it), Spark Connect's
client, matplotlib. Each missing piece is told in one line, with the install that adds it."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from spark_em.engine import compat


def one_line_error(code: str) -> str:
    """The last line a fresh Python prints on stderr running ``code`` (which must fail)."""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode != 0, out.stdout
    return out.stderr.strip().splitlines()[-1]


def test_without_pyspark_the_estimators_say_what_to_install():
    for module in ("spark_em.ml", "spark_em.engine"):
        last = one_line_error(f"import sys; sys.modules['pyspark'] = None; import {module}")
        assert last.startswith("ImportError: spark-em needs PySpark 3.5 or newer"), last
        assert "pip install 'spark-em[spark]'" in last


def test_the_kernels_need_no_pyspark():
    code = "import sys; sys.modules['pyspark'] = None; import spark_em.kernels.masked"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_pyspark_older_than_3_5_is_refused(monkeypatch):
    import pyspark

    monkeypatch.setattr(pyspark, "__version__", "3.4.3")
    with pytest.raises(ImportError, match=r"needs PySpark 3\.5 or newer.*has PySpark 3\.4\.3"):
        compat.require_pyspark()
    monkeypatch.setattr(pyspark, "__version__", "3.5.0")
    compat.require_pyspark()


@pytest.mark.parametrize(
    "text, numbers",
    [("3.5.2", (3, 5, 2)), ("4.1.0.dev0", (4, 1, 0, 0)), ("3.5.0-databricks", (3, 5, 0))],
)
def test_version_numbers(text, numbers):
    assert compat.version_of(text) == numbers


def test_spark_connect_without_its_client_says_what_to_install(monkeypatch):
    from spark_em.engine.session import get_spark

    monkeypatch.setitem(sys.modules, "grpc", None)
    with pytest.raises(ImportError, match=r"pip install 'spark-em\[connect\]'"):
        get_spark(remote="sc://localhost:1")


def test_a_job_without_matplotlib_writes_no_picture_and_says_so(monkeypatch, tmp_path, capsys):
    from spark_em.cli import plots

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    points = np.column_stack([np.arange(5.0), 2 * np.arange(5.0)])
    plots.regression_plot(points, {"fit": (0.0, 2.0)}, tmp_path / "fit.png")
    plots.loss_plot([3.0, 2.0, 1.0], tmp_path / "loss.png")
    assert list(tmp_path.iterdir()) == []
    said = capsys.readouterr().err.strip().splitlines()
    assert said == [
        "fit.png not written: matplotlib is not installed (pip install 'spark-em[plot]')",
        "loss.png not written: matplotlib is not installed (pip install 'spark-em[plot]')",
    ]
