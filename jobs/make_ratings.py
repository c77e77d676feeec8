"""Write seeded synthetic ratings shaped like the Netflix Prize data as Parquet triples.

The job's options: `spark-submit jobs/make_ratings.py --help`; its logic is
`spark_em.cli.make_ratings`.
"""

import sys

from spark_em.cli.common import main_wrapper
from spark_em.cli.make_ratings import main

if __name__ == "__main__":
    sys.exit(main_wrapper(main))
