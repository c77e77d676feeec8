"""Run job invocations one after another in one process and one Spark session, as a user's
console shows them: ``python tests/helpers/run_cases.py CASES.json`` where the file holds
``[[job, [args...]], ...]`` (job: fit_gmm or fit_wols). Before each case a marker line
``=== case N`` and after it ``=== exit N STATUS`` go to stderr, so a test can cut the console
(Python's and the JVM's output alike) into what each case printed.

The markers are written by the JVM, after Python's own streams are flushed: the JVM's console
output (its log lines, written to the same ``System.err``) then falls between the markers of
the case that caused it, in the order it was written, without waiting for it to land."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from spark_em.cli import fit_gmm, fit_wols
from spark_em.cli.common import main_wrapper
from spark_em.engine.session import get_spark

JOBS = {"fit_gmm": fit_gmm.main, "fit_wols": fit_wols.main}


def main(path: str) -> int:
    spark = get_spark("spark-em bad input")  # started before the first marker
    err = spark.sparkContext._jvm.java.lang.System.err

    def mark(line: str) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        err.println(line)
        err.flush()

    for i, (job, args) in enumerate(json.loads(Path(path).read_text())):
        mark(f"=== case {i}")
        status = main_wrapper(JOBS[job], [str(a) for a in args])
        mark(f"=== exit {i} {status}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
