"""Sessions: the one the jobs use (the one spark-submit configured, or a local one), and what
kind a session is."""

from __future__ import annotations

import os
import sys


def get_spark(app_name: str = "spark-em", remote: str | None = None):
    """The active session, or a new one; ``local[*]`` when nothing names a master.

    ``remote`` (or the ``SPARK_REMOTE`` environment variable, which ``spark-submit --remote``
    sets) is a Spark Connect URL such as ``sc://host:15002``: the session is then a Connect
    client, and the data go on the DataFrame backend. Otherwise spark-submit passes
    ``spark-defaults.conf`` (and ``--master``) through the JVM's system properties, which the
    builder reads. Run as a plain ``python`` script, executors use this interpreter unless
    ``PYSPARK_PYTHON`` says otherwise.

    Parameters
    ----------
    app_name : str, default "spark-em"
        The application's name, for a session this call creates.
    remote : str, optional
        A Spark Connect URL (``sc://host:port``); by default ``SPARK_REMOTE``'s, and without
        either a classic session.

    Returns
    -------
    pyspark.sql.SparkSession
        The session: the active one if there is one, else a new one. In a classic session
        Spark's driver log is at ``SPARK_EM_LOG_LEVEL`` (WARN by default), unless
        spark-submit was given ``spark.log.level``.

    Examples
    --------
    >>> from spark_em import get_spark
    >>> spark = get_spark()  # local[*] unless spark-submit or the environment names a master
    >>> spark = get_spark(remote="sc://localhost:15002")  # a Spark Connect client
    """
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    remote = remote or os.environ.get("SPARK_REMOTE")
    if remote:
        missing = [m for m in ("grpc", "google.rpc") if not _importable(m)]
        if missing:
            raise ImportError(
                f"a Spark Connect session ({remote}) needs the Connect client's packages, and "
                "this Python lacks them: pip install 'spark-em[connect]'"
            )
        return SparkSession.builder.remote(remote).appName(app_name).getOrCreate()
    if _context_running():
        # An existing session is reused as it is: options given to the builder now could not
        # take effect, and Spark would log a warning saying so.
        return quiet(SparkSession.builder.getOrCreate())
    builder = SparkSession.builder.appName(app_name)
    # Under spark-submit the JVM exists already and holds --master / spark-defaults.conf; a
    # master set here would override them.
    if "PYSPARK_GATEWAY_PORT" not in os.environ and "--master" not in os.environ.get(
        "PYSPARK_SUBMIT_ARGS", ""
    ):
        builder = builder.master("local[*]")
    if _log_level_configured():
        return builder.getOrCreate()
    # Spark 4 applies it while the context starts, so that most of its INFO lines are not
    # printed when spark-submit runs without a log4j configuration
    return quiet(builder.config("spark.log.level", log_level()).getOrCreate())


def _importable(module: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # its parent package is missing
        return False


def _context_running() -> bool:
    """Whether this process already holds a SparkContext (in any thread: the active session
    is per thread, the context is not)."""
    from pyspark import SparkContext

    return SparkContext._active_spark_context is not None


def _log_level_configured() -> bool:
    """Whether spark-submit was given ``spark.log.level`` (``--conf`` or a properties file),
    which the jobs then keep; outside spark-submit nothing is read before the session
    starts."""
    if "PYSPARK_GATEWAY_PORT" not in os.environ:
        return False
    from pyspark import SparkConf

    return SparkConf().contains("spark.log.level")


def log_level() -> str:
    """The level of Spark's driver log in the jobs: ``SPARK_EM_LOG_LEVEL``, WARN by default."""
    return os.environ.get("SPARK_EM_LOG_LEVEL", "WARN").upper()


def quiet(spark):
    """Spark's driver log at ``log_level()`` in a classic session; a Spark Connect server
    keeps its own log settings."""
    if not is_connect(spark):
        spark.sparkContext.setLogLevel(log_level())
    return spark


def is_connect(spark) -> bool:
    """True for a Spark Connect session (no SparkContext, no RDDs)."""
    return type(spark).__module__.startswith("pyspark.sql.connect")


def context_of(spark):
    """The SparkContext of a classic session (or the context itself)."""
    from pyspark import SparkContext

    return spark if isinstance(spark, SparkContext) else spark.sparkContext
