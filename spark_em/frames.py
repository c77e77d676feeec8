"""The DataFrame backend: blocks as rows of a cached DataFrame, passes by ``mapInArrow``.

Spark Connect clients, Databricks serverless and shared-access clusters have no SparkContext
and no RDDs; a DataFrame is the only way to keep data on the executors there. Each row holds
one block: its first row's index, whether it is dense or CSR, and its arrays as ``.npy``
bytes (never pickled). A pass runs a family's ``block_stats`` over every block of a partition
inside ``mapInArrow`` (the current parameters travel inside the function, as there are no
broadcasts), adds them up there, and returns one partial sum per partition; the driver adds
the partial sums in partition order. The kernels are the same as the RDD backend's: only how
blocks are stored and how statistics are summed differ.

``backend_for`` chooses the backend from the session: a Spark Connect session has no RDDs and
gets this one; a classic session gets RDDs unless asked. The loaders (``spark_em.readers``,
``regression.from_dataframe``), the generators, the engine and the completion take either;
here are the pieces they share: parsing a source DataFrame piece by piece
(``parse_pieces``) and placing the parsed blocks at their global rows (``placed``), making
blocks on the executors (``generated``), mapping (``mapped``, ``map_blocks``), summing
(``aggregate``) and pairing the blocks of two matrices blocked differently (``paired``).
"""

from __future__ import annotations

import io
import pickle

import numpy as np
import pyarrow as pa

from spark_em.blocks import DEFAULT_BLOCK_ROWS, Block, compact
from spark_em.errors import InputError

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
        raise InputError(f"backend must be 'rdd', 'dataframe' or 'auto', not {backend!r}")
    from pyspark import SparkContext

    if isinstance(spark, SparkContext):
        if backend == "dataframe":
            raise InputError("the DataFrame backend needs a SparkSession, not a SparkContext")
        return "rdd"
    if is_connect(spark):
        if backend == "rdd":
            raise InputError("a Spark Connect session has no RDDs; use the 'dataframe' backend")
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
    return cached(frame)


def cached(frame):
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


def map_blocks(blocks, fn) -> list:
    """``fn(block)`` for every block, gathered on the driver (in partition order), on either
    backend."""
    if not is_frame(blocks):
        return blocks.map(fn).collect()
    return [r for part in _gathered(blocks, lambda batches: [fn(b) for b in _blocks_in(batches)])
            for r in part]


def aggregate(frame, block_stats, add, params):
    """Σ over blocks of ``block_stats(values, params)``: one Spark job, one partial sum per
    partition, added on the driver in partition order."""
    def partial(batches):
        total = None
        for block in _blocks_in(batches):
            stats = block_stats(block.values, params)
            total = stats if total is None else add(total, stats)
        return total

    return _combined([t for t in _gathered(frame, partial) if t is not None], add)


def _blocks_in(batches):
    for batch in batches:
        yield from _blocks_of(batch)


def _gathered(frame, per_partition_fn) -> list:
    """``per_partition_fn(batches)`` for every partition of ``frame`` (one ``mapInArrow``),
    pickled on the executors and gathered on the driver in partition order."""
    def run(batches):
        yield pa.RecordBatch.from_pydict({"result": [pickle.dumps(per_partition_fn(batches))]})

    return [pickle.loads(r.result) for r in frame.mapInArrow(run, "result binary").collect()]


def _combined(parts: list, combine):
    """``combine`` over ``parts`` in order."""
    if not parts:
        raise ValueError("the data holds no blocks")
    total = parts[0]
    for part in parts[1:]:
        total = combine(total, part)
    return total


# --- loading: parse pieces of a source DataFrame into blocks, then place them

PARSED = "piece long, local long, kind string, payload binary"


def python_value(value):
    """A value from an Arrow batch as the parsers take it: a vector (a VectorUDT struct) as a
    float64 array, anything else unchanged."""
    if isinstance(value, dict) and "values" in value and "type" in value:
        if value["type"] == 1:
            return np.asarray(value["values"], dtype=np.float64)
        dense = np.zeros(value["size"], dtype=np.float64)
        dense[np.asarray(value["indices"], dtype=np.int64)] = value["values"]
        return dense
    return value


def parse_pieces(source, parse, columns: list[str]):
    """Run ``parse(piece, rows)`` over each piece of ``source``: the rows sharing its ``piece``
    column, which must come together and in order within a partition (a file split, say), or,
    without such a column, the rows of each Spark partition (the piece is its number, taken
    from the task: a ``spark_partition_id()`` column can be folded into a local relation and
    read 0 everywhere). ``rows`` are tuples of ``columns`` (vectors as arrays). ``parse`` yields
    ("block", (_, local_start, values)) and one ("meta", dict), as the RDD parsers do; the
    result is a DataFrame of ``PARSED`` rows (a meta row has kind "meta" and its dict pickled).
    """
    import itertools

    by_partition = "piece" not in source.columns

    def rows_of(batches):
        from pyspark import TaskContext

        for batch in batches:
            lists = [batch.column(name).to_pylist() for name in columns]
            pieces = [TaskContext.get().partitionId()] * batch.num_rows if by_partition \
                else batch.column("piece").to_pylist()
            for piece, *values in zip(pieces, *lists):
                yield piece, tuple(python_value(v) for v in values)

    def per_partition(batches):
        for piece, group in itertools.groupby(rows_of(batches), key=lambda r: r[0]):
            out = {"piece": [], "local": [], "kind": [], "payload": []}
            for tag, body in parse(piece, (values for _, values in group)):
                if tag == "block":
                    kind, payload = pack(body[2])
                    local = body[1]
                else:
                    kind, payload, local = "meta", pickle.dumps(dict(body, partition=piece)), -1
                for name, value in zip(out, (piece, local, kind, payload)):
                    out[name].append(value)
            yield pa.RecordBatch.from_pydict(out, schema=_PARSED_ARROW)

    return source.mapInArrow(per_partition, PARSED)


_PARSED_ARROW = pa.schema([("piece", pa.int64()), ("local", pa.int64()), ("kind", pa.string()),
                           ("payload", pa.binary())])


def parsed_metas(parsed) -> list[dict]:
    """The pieces' summaries, in piece order (``parsed`` should be cached: this is a pass)."""
    from pyspark.sql import functions as F

    rows = parsed.where(F.col("kind") == "meta").select("payload").collect()
    return sorted((pickle.loads(r.payload) for r in rows), key=lambda m: m["partition"])


def placed(parsed, starts: dict[int, int]):
    """The cached DataFrame of blocks: each parsed block at its piece's first row + its local
    start."""
    from pyspark.sql import functions as F

    spark = parsed.sparkSession
    bases = spark.createDataFrame([(int(p), int(s)) for p, s in starts.items()], "piece long, base long")
    blocks = (parsed.where(F.col("kind") != "meta").join(F.broadcast(bases), "piece")
              .select((F.col("base") + F.col("local")).alias("offset"), "kind", "payload"))
    return cached(blocks)


def per_partition(frame, fn) -> list:
    """``fn(rows)`` for the rows of each partition (tuples of every column, vectors as arrays),
    gathered on the driver in partition order; ``fn`` returns something picklable."""
    columns = frame.columns

    def rows(batches):
        for batch in batches:
            yield from zip(*(map(python_value, batch.column(c).to_pylist()) for c in columns))

    return _gathered(frame, lambda batches: fn(rows(batches)))


def generated(spark, keys: list[int], make, num_partitions: int):
    """A cached DataFrame of the blocks ``make(key)`` returns (a list of ``Block``) for every
    key, made on the executors."""
    def run(batches):
        for batch in batches:
            for key in batch.column("key").to_pylist():
                yield _block_batch(make(key))

    source = spark.createDataFrame([(int(k),) for k in keys], "key long")
    source = source.repartition(max(1, min(num_partitions, len(keys))))
    return cached(source.mapInArrow(run, SCHEMA))


def mapped(frame, fn):
    """A new DataFrame of blocks: ``fn(block)`` (a ``Block``) for every block (not cached)."""
    def run(batches):
        for batch in batches:
            yield _block_batch([fn(block) for block in _blocks_of(batch)])

    return frame.mapInArrow(run, SCHEMA)


def _block_batch(blocks: list[Block]) -> pa.RecordBatch:
    packed = [pack(b.values) for b in blocks]
    return pa.RecordBatch.from_pydict(
        {"offset": [b.offset for b in blocks], "kind": [k for k, _ in packed],
         "payload": [p for _, p in packed]},
        schema=pa.schema([("offset", pa.int64()), ("kind", pa.string()), ("payload", pa.binary())]))


def repartitioned(frame, num_partitions: int):
    """The same blocks spread over ``num_partitions`` partitions, cached."""
    spread = cached(frame.repartition(num_partitions))
    frame.unpersist()
    return spread


def default_parallelism(spark) -> int:
    """The cluster's default parallelism: the SparkContext's, or under Spark Connect the
    number of partitions Spark gives a range (one small job)."""
    if not is_connect(spark):
        return context_of(spark).defaultParallelism
    from pyspark.sql import functions as F

    return spark.range(0, 4096).select(F.spark_partition_id()).distinct().count()


def paired(frame, other, fn) -> list:
    """``fn(block, other_values)`` for every block of ``frame``, with the rows of ``other``
    (blocked differently, perhaps) cut to the block's rows; gathered on the driver. One
    shuffle brings each block its pieces."""
    import itertools

    from pyspark.sql import functions as F

    from spark_em.blocks import cutter, joined

    cut = cutter(frame)

    def pieces(batches):
        for batch in batches:
            out = [(target, lo, *pack(values)) for block in _blocks_of(batch)
                   for target, (lo, values) in cut(block)]
            yield pa.RecordBatch.from_pydict(
                {n: [o[i] for o in out] for i, n in enumerate(("target", "lo", "pkind", "ppayload"))},
                schema=pa.schema([("target", pa.int64()), ("lo", pa.int64()),
                                  ("pkind", pa.string()), ("ppayload", pa.binary())]))

    cut_other = other.mapInArrow(pieces, "target long, lo long, pkind string, ppayload binary")
    meeting = (frame.join(cut_other, F.col("offset") == F.col("target"))
               .repartition("offset").sortWithinPartitions("offset", "lo"))

    def run(batches):
        def rows():
            for batch in batches:
                yield from zip(*(batch.column(c).to_pylist()
                                 for c in ("offset", "kind", "payload", "lo", "pkind", "ppayload")))
        out = []
        for offset, group in itertools.groupby(rows(), key=lambda r: r[0]):
            group = list(group)
            block = Block(offset, unpack(group[0][1], group[0][2]))
            out.append(fn(*joined(block, [(lo, unpack(k, p)) for _, _, _, lo, k, p in group])))
        return out

    return [r for part in _gathered(meeting, run) for r in part]


class _Held:
    """A value that travels inside the functions that use it (no broadcasts under Connect)."""

    def __init__(self, value):
        self.value = value


def shared(spark, value):
    """``value`` for the executors, read as ``.value``: a broadcast on a classic session, or
    carried inside the function under Spark Connect."""
    return _Held(value) if is_connect(spark) else context_of(spark).broadcast(value)


def payloads(spark, blocks, fn):
    """A DataFrame ``payload binary`` of ``fn(block)`` (bytes) for every block, either backend."""
    if not is_frame(blocks):
        return spark.createDataFrame(blocks.map(lambda b: (fn(b),)), "payload binary")

    def run(batches):
        for batch in batches:
            yield pa.RecordBatch.from_pydict({"payload": [fn(block) for block in _blocks_of(batch)]},
                                             schema=pa.schema([("payload", pa.binary())]))

    return blocks.mapInArrow(run, "payload binary")
