"""Files whose columns are named, CSV with a header line or Parquet: the one reader of every
loader that takes columns by name ((user, item, rating) records, regression tables, complete
data by column).

One rule for the format: ``fmt`` when given, else CSV for a name ending in ``.csv`` (or
``.csv.gz``, ``.csv.bz2``) and Parquet for anything else (a ``.parquet`` file, or a directory
such as Spark writes). CSV columns take the types Spark infers from the values, so numeric ids
stay numbers and numbers stay numbers.
"""

from __future__ import annotations

from spark_em.engine.files import listed_files
from spark_em.engine.fs import first_line
from spark_em.errors import InputError

FORMATS = ("csv", "parquet")
CSV_SUFFIXES = (".csv", ".csv.gz", ".csv.bz2")


def format_of(path: str, fmt: str | None = None) -> str:
    """``fmt``, checked, or the format the name says (CSV or Parquet)."""
    if fmt is None:
        return "csv" if path.rstrip("/").lower().endswith(CSV_SUFFIXES) else "parquet"
    if fmt not in FORMATS:
        raise InputError(f"{{param}} must be csv or parquet, not {fmt!r}", param="fmt")
    return fmt


def read_frame(spark, path: str, fmt: str | None = None):
    """A DataFrame of the named columns in ``path``: CSV with a header line or Parquet, by
    ``fmt`` or by the name (see the module's docstring).

    Parameters
    ----------
    spark : SparkSession
        The session (classic or Spark Connect).
    path : str
        A file or directory, local or any URI Spark reads.
    fmt : {"csv", "parquet"}, optional
        The format; by default, from the name.

    Returns
    -------
    pyspark.sql.DataFrame
        The file's rows, with its column names.

    Examples
    --------
    >>> ratings = read_frame(spark, "ratings.csv")          # user,item,rating header
    >>> table = read_frame(spark, "s3a://bucket/features")  # a Parquet directory
    """
    fmt = format_of(path, fmt)
    listed_files(spark, path)  # a missing path or an empty directory, said in one line
    try:
        if fmt == "csv":
            return spark.read.csv(path, header=True, inferSchema=True)
        return spark.read.parquet(path)
    except Exception as exc:  # an AnalysisException, classic or Connect
        raise InputError(
            f"{path}: cannot read as {fmt} ({first_line(exc)}); {{param}} names the format",
            param="fmt",
        ) from None
