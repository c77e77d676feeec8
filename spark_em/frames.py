"""The DataFrame backend: blocks as rows of a cached DataFrame, passes by ``mapInArrow``.

Spark Connect clients, Databricks serverless and shared-access clusters have no SparkContext
and no RDDs; a DataFrame is the only way to keep data on the executors there. Each row holds
one block: its first row's index, whether it is dense or CSR, and its arrays as ``.npy``
bytes (never pickled). A pass runs a family's ``block_stats`` over every block of a partition
inside ``mapInArrow`` (the current parameters travel inside the function, as there are no
broadcasts), adds them up there, and returns one partial sum per partition; the driver adds
the partial sums in partition order. The kernels are the same as the RDD backend's: only how
blocks are stored and how statistics are summed differ.

Loaded this way so far: an in-memory array (``from_array``) and the blocks of an RDD
(``from_rdd``, on a classic session). The engine, ``blocks.summarize``, ``blocks.rows_at`` and
the complete-data initialisations accept either backend.
"""

from __future__ import annotations

import io
import pickle

import numpy as np
import pyarrow as pa

from spark_em.blocks import DEFAULT_BLOCK_ROWS, Block, compact

SCHEMA = "offset long, kind string, payload binary"
BACKENDS = ("rdd", "dataframe")


def is_connect(spark) -> bool:
    """True for a Spark Connect session (no SparkContext, no RDDs)."""
    return type(spark).__module__.startswith("pyspark.sql.connect")


def backend_for(spark, backend: str | None = None) -> str:
    """``"rdd"`` or ``"dataframe"``: ``backend`` if given, else what the session allows.

    ``spark`` is a SparkSession (classic or Spark Connect) or a SparkContext. A Connect
    session has no RDDs, so it gets the DataFrame backend; a classic session or a SparkContext
    gets the RDD backend, which is the faster one there.
    """
    if backend not in (None, "auto", *BACKENDS):
        raise ValueError(f"backend must be 'rdd', 'dataframe' or None (automatic), not {backend!r}")
    from pyspark import SparkContext

    if isinstance(spark, SparkContext):
        if backend == "dataframe":
            raise ValueError("the DataFrame backend needs a SparkSession, not a SparkContext")
        return "rdd"
    if is_connect(spark):
        if backend == "rdd":
            raise ValueError("a Spark Connect session has no RDDs; use backend='dataframe'")
        return "dataframe"
    return backend if backend in BACKENDS else "rdd"


def context_of(spark):
    """The SparkContext of a classic session (or the context itself)."""
    from pyspark import SparkContext

    return spark if isinstance(spark, SparkContext) else spark.sparkContext


def is_frame(blocks) -> bool:
    """True for a DataFrame of blocks (classic or Spark Connect), False for an RDD."""
    from pyspark.sql import DataFrame

    return isinstance(blocks, DataFrame)


def pack(values) -> tuple[str, bytes]:
    from scipy import sparse

    out = io.BytesIO()
    if sparse.issparse(values):
        for part in (np.array(values.shape), values.indptr, values.indices, values.data):
            np.save(out, part, allow_pickle=False)
        return "csr", out.getvalue()
    np.save(out, np.asarray(values), allow_pickle=False)
    return "dense", out.getvalue()


def unpack(kind: str, payload: bytes):
    stream = io.BytesIO(payload)
    if kind == "csr":
        from scipy import sparse

        shape, indptr, indices, data = (np.load(stream, allow_pickle=False) for _ in range(4))
        return sparse.csr_array((data, indices, indptr), shape=tuple(shape))
    return np.load(stream, allow_pickle=False)


def _blocks_of(batch: pa.RecordBatch):
    for offset, kind, payload in zip(*(batch.column(n).to_pylist() for n in ("offset", "kind", "payload"))):
        yield Block(offset, unpack(kind, payload))


def from_array(spark, X: np.ndarray, num_partitions: int = 2, block_rows: int = DEFAULT_BLOCK_ROWS):
    """A cached DataFrame of blocks from an in-memory array (cut on the driver)."""
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[0] == 0:
        raise ValueError(f"expected a non-empty 2-D array, got shape {X.shape}")
    step = min(block_rows, max(1, -(-X.shape[0] // num_partitions)))
    rows = [(start, *pack(compact(X[start:start + step]))) for start in range(0, X.shape[0], step)]
    frame = spark.createDataFrame(rows, SCHEMA).repartition(min(num_partitions, len(rows)))
    return _cached(frame)


def from_rdd(spark, blocks):
    """The blocks of an RDD as a cached DataFrame (a classic session)."""
    return _cached(spark.createDataFrame(blocks.map(lambda b: (b.offset, *pack(b.values))), SCHEMA))


def _cached(frame):
    frame = frame.cache()
    frame.count()
    return frame


def reduce_blocks(blocks, fn, combine, tree: bool = True):
    """``combine`` over ``fn(block)`` of every block, on either backend (an RDD keeps its own
    ``treeReduce``, or ``reduce`` when not ``tree``)."""
    if is_frame(blocks):
        return _combined(map_blocks(blocks, fn), combine)
    mapped = blocks.map(fn)
    return mapped.treeReduce(combine) if tree else mapped.reduce(combine)


def map_blocks(frame, fn) -> list:
    """``fn(block)`` for every block, gathered on the driver in partition order."""
    def per_partition(batches):
        out = [fn(block) for batch in batches for block in _blocks_of(batch)]
        yield pa.RecordBatch.from_pydict({"result": [pickle.dumps(out)]})

    return [r for row in frame.mapInArrow(per_partition, "result binary").collect()
            for r in pickle.loads(row.result)]


def aggregate(frame, block_stats, add, params):
    """Σ over blocks of ``block_stats(values, params)``: one Spark job, one partial sum per
    partition, added on the driver in partition order."""
    def per_partition(batches):
        total = None
        for batch in batches:
            for block in _blocks_of(batch):
                stats = block_stats(block.values, params)
                total = stats if total is None else add(total, stats)
        if total is not None:
            yield pa.RecordBatch.from_pydict({"stats": [pickle.dumps(total)]})

    return _combined([pickle.loads(row.stats)
                      for row in frame.mapInArrow(per_partition, "stats binary").collect()], add)


def _combined(parts: list, combine):
    """``combine`` over ``parts`` in order."""
    if not parts:
        raise ValueError("the data holds no blocks")
    total = parts[0]
    for part in parts[1:]:
        total = combine(total, part)
    return total
