"""The Backend protocol: where the blocks live and how a pass over them is made; and the choice
of backend for a session.

Two implementations:

- ``engine.rdd.RDD``: a cached RDD of ``Block`` records; a pass broadcasts the parameters and
  sums the statistics with ``treeAggregate``. The faster one where RDDs exist.
- ``engine.frame.FRAME``: a cached DataFrame whose rows are blocks stored as ``.npy`` bytes; a
  pass is one ``mapInArrow`` that returns one partial sum per partition, added on the driver
  in partition order. It runs where there are no RDDs: Spark Connect clients, Databricks
  serverless and shared-access clusters.

The kernels, the loop and the models are the same on both. Everything outside ``engine/``
reaches a backend through ``engine.ops`` (which finds the backend of a set of blocks) or gets
one from ``backend_for`` at the loading entry points that take a ``backend=`` argument.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Protocol, runtime_checkable

from spark_em.engine.session import context_of, is_connect
from spark_em.errors import InputError

BACKENDS = ("rdd", "dataframe")


@runtime_checkable
class Backend(Protocol):
    """What a backend does with blocks. ``blocks`` is whatever the backend keeps them in."""

    name: str

    # --- data on the executors
    def from_array(self, spark, X, num_partitions: int, block_rows: int, weights=None): ...
    def generated(self, spark, keys: list[int], make: Callable, num_partitions: int): ...
    def from_records(self, frame): ...
    def cached(self, blocks): ...
    def repartitioned(self, blocks, num_partitions: int): ...

    # --- passes
    def aggregate(self, blocks, block_stats: Callable, add: Callable, params: Any): ...
    def reduce(self, blocks, fn: Callable, combine: Callable): ...
    def collect(self, blocks, fn: Callable) -> list: ...
    def mapped(self, blocks, fn: Callable): ...
    def paired(self, blocks, other, ranges: list[tuple[int, int]], fn: Callable) -> list: ...
    def iterate(self, blocks) -> Iterator: ...
    def payloads(self, spark, blocks, fn: Callable): ...

    # --- loading: sources cut into numbered pieces, parsed, then placed at their rows
    def items(self, spark, items: list[tuple]): ...
    def text_files(self, spark, path: str, num_partitions: int | None) -> tuple[list[str], Any]: ...
    def per_partition(self, pieces, fn: Callable) -> list: ...
    def parse(self, pieces, parse: Callable): ...
    def parse_frame(self, frame, parse: Callable): ...
    def fold_frame(self, frame, fold: Callable) -> list: ...
    def metas(self, parsed) -> list[dict]: ...
    def place(self, parsed, starts: dict[int, int]): ...


def backend_for(spark, backend: str | None = None) -> Backend:
    """The backend named by ``backend`` (``"rdd"``, ``"dataframe"``, or ``None``/``"auto"``:
    what the session allows).

    ``spark`` is a SparkSession (classic or Spark Connect) or a SparkContext. A Connect
    session has no RDDs, so it gets the DataFrame backend; a classic session or a SparkContext
    gets the RDD backend, which is the faster one there.
    """
    from pyspark import SparkContext

    from spark_em.engine.frame import FRAME
    from spark_em.engine.rdd import RDD

    if backend not in (None, "auto", *BACKENDS):
        raise InputError(f"backend must be 'rdd', 'dataframe' or 'auto', not {backend!r}")
    if isinstance(spark, SparkContext):
        if backend == "dataframe":
            raise InputError("the DataFrame backend needs a SparkSession, not a SparkContext")
        return RDD
    if is_connect(spark):
        if backend == "rdd":
            raise InputError("a Spark Connect session has no RDDs; use the 'dataframe' backend")
        return FRAME
    return FRAME if backend == "dataframe" else RDD


def is_frame(blocks) -> bool:
    """True for a DataFrame of blocks (classic or Spark Connect), False for an RDD."""
    from pyspark.sql import DataFrame

    return isinstance(blocks, DataFrame)


def backend_of(blocks) -> Backend:
    """The backend that holds ``blocks``."""
    from spark_em.engine.frame import FRAME
    from spark_em.engine.rdd import RDD

    return FRAME if is_frame(blocks) else RDD


def default_parallelism(spark) -> int:
    """The cluster's default parallelism: the SparkContext's, or under Spark Connect the
    number of partitions Spark gives a range (one small job)."""
    if not is_connect(spark):
        return context_of(spark).defaultParallelism
    from pyspark.sql import functions as F

    return spark.range(0, 4096).select(F.spark_partition_id()).distinct().count()


class _Held:
    """A value that travels inside the functions that use it (no broadcasts under Connect)."""

    def __init__(self, value):
        self.value = value


def shared(spark, value):
    """``value`` for the executors, read as ``.value``: a broadcast on a classic session (give
    it back with ``release`` once the work that reads it is done), or carried inside the
    function under Spark Connect."""
    return _Held(value) if is_connect(spark) else context_of(spark).broadcast(value)


def carried(value):
    """A small ``value`` for the executors, read as ``.value``, carried inside the function
    that reads it: for work that runs later, whenever the user asks (a DataFrame returned)."""
    return _Held(value)


def release(value) -> None:
    """Destroy what ``shared`` broadcast (nothing to do for a carried value)."""
    if not isinstance(value, _Held):
        value.destroy()
