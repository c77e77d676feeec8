"""Run job invocations one after another in one process and one Spark session, as a user's
console shows them: ``python tests/helpers/run_cases.py CASES.json`` where the file holds
``[[job, [args...]], ...]`` (job: fit_gmm or fit_wols). Before each case a marker line
``=== case N`` and after it ``=== exit N STATUS`` go to stderr, so a test can cut the console
(Python's and the JVM's output alike) into what each case printed."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from spark_em.cli import fit_gmm, fit_wols
from spark_em.cli.common import main_wrapper
from spark_em.engine.session import get_spark

JOBS = {"fit_gmm": fit_gmm.main, "fit_wols": fit_wols.main}
SETTLE_SECONDS = 0.5  # for the JVM's console output of a case to land before the next marker


def main(path: str) -> int:
    get_spark("spark-em bad input")  # started before the first marker: its banner is no case's
    for i, (job, args) in enumerate(json.loads(Path(path).read_text())):
        print(f"=== case {i}", file=sys.stderr, flush=True)
        status = main_wrapper(JOBS[job], [str(a) for a in args])
        sys.stdout.flush()
        sys.stderr.flush()
        time.sleep(SETTLE_SECONDS)
        print(f"=== exit {i} {status}", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
