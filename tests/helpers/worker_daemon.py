"""PySpark 3.5's Python worker daemon, for the test session, without Spark's core jar on the
workers' module path.

PyPI's PySpark 3.5 puts ``spark-core_*.jar`` on its workers' ``PYTHONPATH``, and its worker
calls ``importlib.invalidate_caches()`` before every task, which on Python 3.11 reads the
jar's directory of some ten thousand entries again: a third of a busy worker's time in the
suite (measured with a sampling profiler), for nothing (the installed pyspark is what the
workers import). The session on such a PySpark names this module as
``spark.python.daemon.module``; its forked workers inherit the path without the jar.
"""

from __future__ import annotations

import sys

sys.path[:] = [entry for entry in sys.path if not entry.endswith(".jar")]
for entry in [key for key in sys.path_importer_cache if key.endswith(".jar")]:
    del sys.path_importer_cache[entry]

from pyspark import daemon  # noqa: E402  (after the path is cleared)

if __name__ == "__main__":
    daemon.manager()
