"""The PySpark versions spark-em supports (3.5 and newer): the check that one is there, and the
one place for what differs between them.

PySpark is not among the package's requirements (a Spark installation provides it, and pip must
not replace a Databricks runtime's or a cluster's own). ``spark_em.engine`` and ``spark_em.ml``
call :func:`require_pyspark` when imported: a missing or too old PySpark is told in one line
what to install, and ``import spark_em.kernels`` stays free of Spark.
"""

from __future__ import annotations

import re
import threading

OLDEST = (3, 5)
INSTALL = "pip install 'spark-em[spark]'"


def version_of(text: str) -> tuple[int, ...]:
    """The leading numbers of a version string: ``"3.5.2"`` → ``(3, 5, 2)``, ``"4.1.0.dev0"`` →
    ``(4, 1, 0, 0)``."""
    return tuple(int(part) for part in re.findall(r"\d+", text))


def require_pyspark() -> None:
    """Raise a one-line ``ImportError`` if PySpark is missing or older than 3.5."""
    try:
        import pyspark
    except ModuleNotFoundError:
        raise ImportError(
            "spark-em needs PySpark 3.5 or newer, and this Python has none: use the Python of a "
            f"Spark installation, or on a machine without Spark, {INSTALL}"
        ) from None
    found = getattr(pyspark, "__version__", "0")
    if version_of(found)[:2] < OLDEST:
        raise ImportError(
            f"spark-em needs PySpark 3.5 or newer, and this Python has PySpark {found}: "
            "use a newer Spark (Databricks Runtime 15.4 LTS or newer)"
        )


def frame_of_arrow(spark, table):
    """A pyarrow ``Table`` as a DataFrame, on any supported Spark.

    Spark 4 takes the table whole (no Python task needed to write it); PySpark 3.5's
    ``createDataFrame`` has no Arrow tables, so there it is made from the table's rows under the
    table's own schema.

    Parameters
    ----------
    spark : pyspark.sql.SparkSession
        A classic or Spark Connect session.
    table : pyarrow.Table
        The rows, with the column types the DataFrame is to have.

    Returns
    -------
    pyspark.sql.DataFrame
        The table's rows and columns.

    Examples
    --------
    >>> import pyarrow as pa
    >>> frame = frame_of_arrow(spark, pa.table({"id": pa.array([3, 1], pa.int64())}))
    """
    if _spark_4():
        return spark.createDataFrame(table)
    from pyspark.sql.pandas.types import from_arrow_schema

    rows = [tuple(row.values()) for row in table.to_pylist()]
    return spark.createDataFrame(rows, from_arrow_schema(table.schema))


def try_cast(name: str, kind: str):
    """Column ``name`` cast to the SQL type ``kind``, null where a value does not convert (in
    ANSI mode too, where a plain cast raises).

    Parameters
    ----------
    name : str
        A column's name, taken whole (a dot in it is part of the name, not a struct's field).
    kind : str or pyspark.sql.types.DataType
        A Spark SQL type, such as ``"double"``.

    Returns
    -------
    pyspark.sql.Column
        The cast column (``Column.try_cast`` on Spark 4, the SQL ``try_cast`` on 3.5).

    Examples
    --------
    >>> frame.select(try_cast("rating", "double").alias("rating"))
    """
    from pyspark.sql import functions as F

    quoted = "`" + name.replace("`", "``") + "`"
    kind = kind if isinstance(kind, str) else kind.simpleString()
    if _spark_4():
        return F.col(quoted).try_cast(kind)
    return F.expr(f"try_cast({quoted} AS {kind})")


_BATCH_SIZE_LOCK = threading.Lock()


def parallelize_each(sc, items: list, num_slices: int):
    """``sc.parallelize(items, num_slices)`` with each item pickled on its own.

    ``parallelize`` pickles up to 1024 items together, and a partition's items then travel
    and are cached as one record: 122 blocks of 2 MB made one 250 MB pickle, which loaded 6×
    slower (7.3 s against 1.2 s for 1M × 64) and made every later pass read the cache 1.6×
    slower (1.09 s against 0.66 s). The batch size is the context's own (``batchSize``, the
    same in PySpark 3.5 and 4), set to 1 for this call.

    Parameters
    ----------
    sc : pyspark.SparkContext
        A classic session's context.
    items : list
        What the RDD holds, in order.
    num_slices : int
        Its number of partitions.

    Returns
    -------
    pyspark.RDD
        The items, each its own record.

    Examples
    --------
    >>> rdd = parallelize_each(spark.sparkContext, [np.zeros((4096, 64))] * 8, 2)
    """
    with _BATCH_SIZE_LOCK:  # two threads must not each restore the other's 1
        saved = sc._batchSize
        sc._batchSize = 1
        try:
            return sc.parallelize(items, num_slices)
        finally:
            sc._batchSize = saved


def _spark_4() -> bool:
    import pyspark

    return version_of(pyspark.__version__)[:1] >= (4,)
