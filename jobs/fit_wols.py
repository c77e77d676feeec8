"""Weighted least squares at scale: fit f(W) = ½ Σ w_i (W·X_i − y_i)² on Spark.

The job's options: `spark-submit jobs/fit_wols.py --help`; its logic is `spark_em.cli.fit_wols`.
"""

import sys

from spark_em.cli.common import main_wrapper
from spark_em.cli.fit_wols import main

if __name__ == "__main__":
    sys.exit(main_wrapper(main))
