"""Fit a Gaussian mixture: to a partially observed ratings matrix (and complete it), or to
complete data.

The job's options: `spark-submit jobs/fit_gmm.py --help`; its logic is `spark_em.cli.fit_gmm`.
"""

import sys

from spark_em.cli.common import main_wrapper
from spark_em.cli.fit_gmm import main

if __name__ == "__main__":
    sys.exit(main_wrapper(main))
