"""The jobs' --help: every option explained, and no Spark started to say so."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("job", ["fit_gmm", "fit_wols"])
def test_every_option_has_help(job):
    import importlib

    parser = importlib.import_module(f"spark_em.cli.{job}").build_parser()
    silent = [a.option_strings[-1] for a in parser._actions if a.option_strings and not a.help]
    assert silent == []


def test_help_starts_no_spark():
    """--help exits before any session: no JVM is launched (no gateway to one, on PySpark
    versions whose import loads the launcher and on those that leave it out)."""
    code = (
        "import runpy, sys; sys.argv = ['fit_gmm.py', '--help']\n"
        "try:\n    runpy.run_path('jobs/fit_gmm.py', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "context = sys.modules.get('pyspark.context')\n"
        "gateway = context is not None and context.SparkContext._gateway is not None\n"
        "print('launched' if gateway else 'none')"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert "--model" in out.stdout and out.stdout.strip().endswith("none")
