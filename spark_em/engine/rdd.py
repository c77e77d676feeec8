"""The RDD backend: blocks as a cached RDD of ``Block`` records.

A pass broadcasts the parameters once per executor (destroyed when the pass is done) and sums
the per-block statistics with one ``treeAggregate``. Loading parses each piece of a source (a
file split, a Spark partition, an item) inside ``mapPartitionsWithIndex``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import NamedTuple

from spark_em.engine.block import (
    FILE_PIECES,
    Block,
    array_blocks,
    block_stats_of,
    cutter,
    default_partitions,
    joined,
    unpack_block,
)
from spark_em.engine.compat import parallelize_each
from spark_em.engine.files import hadoop_files
from spark_em.engine.held import derived
from spark_em.engine.session import context_of


class Pieces(NamedTuple):
    """An RDD of row tuples whose partition i holds the rows of piece ``numbers[i]``."""

    rdd: object
    numbers: list[int]


class RDDBackend:
    name = "rdd"

    # --- data on the executors

    def from_array(self, spark, X, num_partitions, block_rows, weights=None):
        blocks = array_blocks(X, num_partitions, block_rows, weights)
        slices = min(num_partitions, len(blocks))
        return parallelize_each(context_of(spark), blocks, slices).cache()

    def generated(self, spark, keys, make, num_partitions):
        blocks = context_of(spark).parallelize(keys, num_partitions).flatMap(make).cache()
        blocks.count()
        return blocks

    def from_records(self, frame):
        blocks = frame.rdd.map(lambda r: unpack_block(r.offset, r.kind, r.payload)).cache()
        blocks.count()
        return blocks

    def cached(self, blocks):
        blocks = blocks.cache()
        blocks.count()
        return blocks

    def repartitioned(self, blocks, num_partitions):
        return blocks  # an RDD loader asks Spark for its partitions when it reads

    # --- passes

    def aggregate(self, blocks, block_stats, add, params):
        broadcast = blocks.context.broadcast(params)

        def seq(acc, block):
            stats = block_stats_of(block, block_stats, broadcast.value)
            return stats if acc is None else add(acc, stats)

        def comb(a, b):
            return b if a is None else a if b is None else add(a, b)

        try:
            total = blocks.treeAggregate(None, seq, comb, 2)
        finally:
            broadcast.destroy()
        if total is None:
            raise ValueError("the data holds no blocks")
        return total

    def reduce(self, blocks, fn, combine):
        return blocks.map(fn).treeReduce(combine)

    def collect(self, blocks, fn):
        return blocks.map(fn).collect()

    def mapped(self, blocks, fn):
        return blocks.map(fn)

    def paired(self, blocks, other, ranges, fn):
        """One shuffle cuts ``other`` to the row ranges of ``blocks`` and joins the pieces."""
        grouped = other.flatMap(cutter(ranges)).groupByKey()
        pairs = blocks.map(lambda b: (b.offset, b)).join(grouped).values()
        return pairs.map(lambda p: fn(*joined(*p))).collect()

    def iterate(self, blocks):
        return blocks.toLocalIterator()

    def payloads(self, spark, blocks, fn):
        return spark.createDataFrame(blocks.map(lambda b: (fn(b),)), "payload binary")

    # --- loading

    def items(self, spark, items):
        return Pieces(context_of(spark).parallelize(items, len(items)), list(range(len(items))))

    def text_files(self, spark, path, num_partitions):
        sc = context_of(spark)
        listed = hadoop_files(sc, path)
        files = [name for name, _ in listed]
        wanted = num_partitions or default_partitions(
            sc.defaultParallelism, sum(size for _, size in listed)
        )
        texts = [sc.textFile(name, max(1, wanted // len(files))) for name in files]
        numbers = [
            (index + 1) * FILE_PIECES + part
            for index, lines in enumerate(texts)
            for part in range(lines.getNumPartitions())
        ]
        rows = sc.union(texts).map(lambda line: (line,))
        return files, Pieces(rows, numbers)

    def parse_frame(self, frame, parse):
        """``parse(piece, batches)`` over each Spark partition of ``frame``, its Arrow record
        batches read in a Python RDD (Spark's Arrow batches of the DataFrame, as ``toPandas``
        uses them), so no Python object per row and no second Python worker per task."""
        return _arrow_batches(frame).mapPartitionsWithIndex(parse).persist()

    def fold_frame(self, frame, fold):
        """``fold(piece, batches)`` of each Spark partition of ``frame`` (its Arrow record
        batches, as ``parse_frame`` reads them), gathered in partition order; nothing cached."""
        return _arrow_batches(frame).mapPartitionsWithIndex(lambda i, b: [fold(i, b)]).collect()

    def per_partition(self, pieces, fn):
        return pieces.rdd.mapPartitions(lambda rows: [fn(rows)]).collect()

    def parse(self, pieces, parse):
        numbers = pieces.numbers

        def run(index: int, rows: Iterable) -> Iterator[tuple]:
            return parse(numbers[index], rows)

        return pieces.rdd.mapPartitionsWithIndex(run).persist()

    def metas(self, parsed):
        return sorted(
            (r[1] for r in parsed.filter(lambda r: r[0] == "meta").collect()),
            key=lambda m: m["partition"],
        )

    def place(self, parsed, starts):
        """The parsed blocks at their global rows: a map over the persisted parsed records,
        not a second cached copy."""

        def placed(records: Iterable) -> Iterator[Block]:
            for tag, body in records:
                if tag == "block":
                    piece, local_start, rows, weights = body
                    yield Block(starts[piece] + local_start, rows, weights)

        return derived(parsed.mapPartitions(placed, preservesPartitioning=True), parsed)


RDD = RDDBackend()


def _arrow_batches(frame):
    """An RDD whose partitions are the Arrow record batches of ``frame``'s partitions (Spark's
    own Arrow conversion, in the JVM), decoded lazily on the executors."""
    import pyarrow as pa
    from pyspark.rdd import RDD as PythonRDD
    from pyspark.serializers import NoOpSerializer
    from pyspark.sql.pandas.types import to_arrow_schema

    schema = to_arrow_schema(frame.schema)
    messages = PythonRDD(
        frame._jdf.toArrowBatchRdd().toJavaRDD(),
        frame.sparkSession.sparkContext,
        NoOpSerializer(),
    )

    def batches(messages: Iterable[bytes]) -> Iterator:
        return (pa.ipc.read_record_batch(pa.py_buffer(m), schema) for m in messages)

    return messages.mapPartitions(batches)
