"""Library errors name parameters; each job speaks of its own flags instead."""

from __future__ import annotations

import pytest

from spark_em.cli import fit_gmm, fit_wols
from spark_em.cli.common import speaking
from spark_em.errors import InputError


def test_a_library_error_names_the_parameter():
    exc = InputError("{param} 30 is larger than the number of rows (20)", param="k")
    assert str(exc) == "k 30 is larger than the number of rows (20)"
    assert exc.worded({"k": "--k"}) == "--k 30 is larger than the number of rows (20)"
    plain = InputError("a.txt line 2: 2 values, expected 3")
    assert plain.param is None and plain.worded({"k": "--k"}) == str(plain)


def test_the_jobs_flags():
    assert {
        p: fit_gmm.FLAGS[p]
        for p in (
            "k",
            "max_iter",
            "n_init",
            "reg_covar",
            "criterion",
            "covariance_type",
            "fmt",
            "resume",
            "on_bad_rows",
        )
    } == {
        "k": "--k",
        "max_iter": "--max-iter",
        "n_init": "--n-init",
        "reg_covar": "--reg-covar",
        "criterion": "--select",
        "covariance_type": "--covariance",
        "fmt": "--format",
        "resume": "--resume",
        "on_bad_rows": "--on-bad-rows",
    }
    assert {p: fit_wols.FLAGS[p] for p in ("solver", "step", "fmt", "num_partitions")} == {
        "solver": "--solver",
        "step": "--step",
        "fmt": "--format",
        "num_partitions": "--partitions",
    }


def test_a_job_speaks_of_its_flags():
    @speaking({"k": "--k"})
    def main(argv=None):
        raise InputError("{param} 30 is larger than the number of rows (20)", param="k")

    with pytest.raises(InputError) as caught:
        main([])
    assert str(caught.value) == "--k 30 is larger than the number of rows (20)"

    @speaking({"k": "--k"})
    def other(argv=None):
        raise InputError("no such file")

    with pytest.raises(InputError, match="^no such file$"):
        other([])


def test_executors_without_spark_em_are_told_which_python_to_set(monkeypatch):
    """The executors' ModuleNotFoundError (their Python is not the driver's) comes back as one
    line naming their Python and the PYSPARK_PYTHON that fixes it."""
    import sys

    from spark_em.errors import raised_on_executor

    monkeypatch.delenv("PYSPARK_PYTHON", raising=False)
    text = (
        "org.apache.spark.SparkException: Job aborted due to stage failure: Task 0 ...\n"
        '  File "/usr/lib/python3/dist-packages/pyspark/worker.py", line 1883, in read_udfs\n'
        "ModuleNotFoundError: No module named 'spark_em'\n\tat org.apache.spark..."
    )
    found = raised_on_executor(RuntimeError(text))
    assert found is not None and "\n" not in str(found)
    assert "executors' Python (python3, Spark's default) cannot import spark_em" in str(found)
    assert f"PYSPARK_PYTHON={sys.executable}" in str(found)
    other = "ModuleNotFoundError: No module named 'somebody_elses'"
    assert raised_on_executor(RuntimeError(other)) is None
