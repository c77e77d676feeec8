"""The DataFrame backend: blocks as rows of a cached DataFrame, passes by ``mapInArrow``.

Spark Connect clients, Databricks serverless and shared-access clusters have no SparkContext
and no RDDs; a DataFrame is the only way to keep data on the executors there. Each row holds
one block: its first row's index, whether it is dense or CSR, and its arrays as ``.npy``
bytes (never pickled). A pass runs a family's ``block_stats`` over every block of a partition
inside ``mapInArrow`` (the current parameters travel inside the function, as there are no
broadcasts), adds them up there, and returns one partial sum per partition; the driver adds
the partial sums in partition order. The kernels are the same as the RDD backend's: only how
blocks are stored and how statistics are summed differ.

Loading parses a source DataFrame piece by piece (a file split, or a Spark partition) inside
``mapInArrow`` and places the parsed blocks at their global rows with one broadcast join.
"""

from __future__ import annotations

import itertools
from typing import NamedTuple

import pyarrow as pa

from spark_em.engine import wire
from spark_em.engine.block import (
    FILE_PIECES,
    Block,
    array_blocks,
    block_stats_of,
    combined,
    cutter,
    joined,
    pack,
    pack_block,
    unpack,
    unpack_block,
)
from spark_em.engine.files import listed_files
from spark_em.engine.held import derived, free

SCHEMA = "offset long, kind string, payload binary"
_SCHEMA_ARROW = pa.schema([("offset", pa.int64()), ("kind", pa.string()), ("payload", pa.binary())])
PARSED = "piece long, local long, kind string, payload binary"
_PARSED_ARROW = pa.schema(
    [("piece", pa.int64()), ("local", pa.int64()), ("kind", pa.string()), ("payload", pa.binary())]
)


class Pieces(NamedTuple):
    """A DataFrame of ``columns`` cut into pieces by its ``piece`` column (whose rows come
    together and in order within a partition)."""

    frame: object
    columns: list[str]


def cached(frame):
    frame = frame.cache()
    frame.count()
    return frame


def _blocks_of(batch: pa.RecordBatch):
    for offset, kind, payload in zip(
        *(batch.column(n).to_pylist() for n in ("offset", "kind", "payload"))
    ):
        yield unpack_block(offset, kind, payload)


def _blocks_in(batches):
    for batch in batches:
        yield from _blocks_of(batch)


def _block_batch(blocks: list[Block]) -> pa.RecordBatch:
    packed = [pack_block(b) for b in blocks]
    return pa.RecordBatch.from_pydict(
        {
            "offset": [b.offset for b in blocks],
            "kind": [k for k, _ in packed],
            "payload": [p for _, p in packed],
        },
        schema=_SCHEMA_ARROW,
    )


def _gathered(frame, per_partition_fn) -> list:
    """``per_partition_fn(batches)`` for every partition of ``frame`` (one ``mapInArrow``),
    encoded on the executors without pickle (``wire``) and gathered on the driver in
    partition order."""

    def run(batches):
        yield pa.RecordBatch.from_pydict({"result": [wire.encode(per_partition_fn(batches))]})

    return [wire.decode(r.result) for r in frame.mapInArrow(run, "result binary").collect()]


def _parsed_batches(piece: int, records, per_batch: int = 16):
    """A parser's ("block", ...) and ("meta", dict) records as ``PARSED`` record batches."""
    out: dict[str, list] = {"piece": [], "local": [], "kind": [], "payload": []}
    for tag, body in records:
        if tag == "block":
            kind, payload = pack_block(Block(body[1], body[2], body[3]))
            local = body[1]
        else:
            kind, payload, local = "meta", wire.encode(body), -1
        for name, value in zip(out, (piece, local, kind, payload)):
            out[name].append(value)
        if len(out["piece"]) == per_batch:
            yield pa.RecordBatch.from_pydict(out, schema=_PARSED_ARROW)
            out = {name: [] for name in out}
    yield pa.RecordBatch.from_pydict(out, schema=_PARSED_ARROW)


def parsed_frame(frame, parse):
    """``frame`` parsed partition by partition: ``parse(piece, batches)`` with the partition's
    number and its Arrow batches, into a DataFrame of ``PARSED`` rows (not cached)."""

    def per_partition(batches):
        from pyspark import TaskContext

        # The task's partition number: a spark_partition_id() column can be folded into a
        # local relation and read 0 everywhere.
        piece = TaskContext.get().partitionId()
        yield from _parsed_batches(piece, parse(piece, batches))

    return frame.mapInArrow(per_partition, PARSED)


class FrameBackend:
    name = "dataframe"

    # --- data on the executors

    def from_array(self, spark, X, num_partitions, block_rows, weights=None):
        rows = [
            (b.offset, *pack_block(b)) for b in array_blocks(X, num_partitions, block_rows, weights)
        ]
        return cached(
            spark.createDataFrame(rows, SCHEMA).repartition(min(num_partitions, len(rows)))
        )

    def generated(self, spark, keys, make, num_partitions):
        def run(batches):
            for batch in batches:
                for key in batch.column("key").to_pylist():
                    yield _block_batch(make(key))

        source = spark.createDataFrame([(int(k),) for k in keys], "key long")
        source = source.repartition(max(1, min(num_partitions, len(keys))))
        return cached(source.mapInArrow(run, SCHEMA))

    def from_records(self, frame):
        return cached(frame.select("offset", "kind", "payload"))

    def cached(self, blocks):
        return cached(blocks)

    def repartitioned(self, blocks, num_partitions):
        spread = cached(blocks.repartition(num_partitions))
        free(blocks)
        return spread

    # --- passes

    def aggregate(self, blocks, block_stats, add, params):
        def partial(batches):
            total = None
            for block in _blocks_in(batches):
                stats = block_stats_of(block, block_stats, params)
                total = stats if total is None else add(total, stats)
            return total

        return combined([t for t in _gathered(blocks, partial) if t is not None], add)

    def reduce(self, blocks, fn, combine):
        def partial(batches):
            total = None
            for block in _blocks_in(batches):
                value = fn(block)
                total = value if total is None else combine(total, value)
            return total

        return combined([t for t in _gathered(blocks, partial) if t is not None], combine)

    def collect(self, blocks, fn):
        return [
            r
            for part in _gathered(blocks, lambda batches: [fn(b) for b in _blocks_in(batches)])
            for r in part
        ]

    def mapped(self, blocks, fn):
        def run(batches):
            for batch in batches:
                yield _block_batch([fn(block) for block in _blocks_of(batch)])

        return blocks.mapInArrow(run, SCHEMA)

    def paired(self, blocks, other, ranges, fn):
        """One shuffle brings each block of ``blocks`` the pieces of ``other`` cut to its rows."""
        from pyspark.sql import functions as F

        cut = cutter(ranges)

        def pieces(batches):
            for batch in batches:
                out = [
                    (target, lo, *pack(values))
                    for block in _blocks_of(batch)
                    for target, (lo, values) in cut(block)
                ]
                yield pa.RecordBatch.from_pydict(
                    {
                        n: [o[i] for o in out]
                        for i, n in enumerate(("target", "lo", "pkind", "ppayload"))
                    },
                    schema=pa.schema(
                        [
                            ("target", pa.int64()),
                            ("lo", pa.int64()),
                            ("pkind", pa.string()),
                            ("ppayload", pa.binary()),
                        ]
                    ),
                )

        cut_other = other.mapInArrow(pieces, "target long, lo long, pkind string, ppayload binary")
        meeting = (
            blocks.join(cut_other, F.col("offset") == F.col("target"))
            .repartition("offset")
            .sortWithinPartitions("offset", "lo")
        )

        def run(batches):
            def rows():
                for batch in batches:
                    yield from zip(
                        *(
                            batch.column(c).to_pylist()
                            for c in ("offset", "kind", "payload", "lo", "pkind", "ppayload")
                        )
                    )

            out = []
            for offset, group in itertools.groupby(rows(), key=lambda r: r[0]):
                group = list(group)
                block = unpack_block(offset, group[0][1], group[0][2])
                out.append(fn(*joined(block, [(lo, unpack(k, p)) for _, _, _, lo, k, p in group])))
            return out

        return [r for part in _gathered(meeting, run) for r in part]

    def iterate(self, blocks):
        return (
            unpack_block(r.offset, r.kind, r.payload)
            for r in blocks.orderBy("offset").toLocalIterator()
        )

    def payloads(self, spark, blocks, fn):
        def run(batches):
            for batch in batches:
                yield pa.RecordBatch.from_pydict(
                    {"payload": [fn(block) for block in _blocks_of(batch)]},
                    schema=pa.schema([("payload", pa.binary())]),
                )

        return blocks.mapInArrow(run, "payload binary")

    # --- loading

    def items(self, spark, items):
        width = len(items[0])
        names = [f"item{i}" for i in range(width)]
        schema = ", ".join(["piece long"] + [f"{n} long" for n in names])
        source = spark.createDataFrame([(i, *item) for i, item in enumerate(items)], schema)
        return Pieces(source.repartition(len(items)), names)

    def text_files(self, spark, path, num_partitions):
        """Each file split is a piece, numbered by its file's place in name order and its first
        byte, so pieces sort in line order."""
        from pyspark.sql import functions as F

        files, uris = listed_files(spark, path)
        lines = spark.read.text(path)
        # each file's place in name order, from 1 (a map lookup: PySpark 3.5's array_position
        # takes no column to look for)
        places = F.create_map(*[F.lit(x) for i, u in enumerate(uris) for x in (u, i + 1)])
        file_number = F.element_at(places, F.col("_metadata.file_path"))
        source = lines.select(
            (file_number * FILE_PIECES + F.col("_metadata.file_block_start")).alias("piece"),
            "value",
        )
        return files, Pieces(source, ["value"])

    def per_partition(self, pieces, fn):
        columns = pieces.columns

        def rows(batches):
            for batch in batches:
                yield from zip(*(batch.column(c).to_pylist() for c in columns))

        return _gathered(pieces.frame.select(*columns), lambda batches: fn(rows(batches)))

    def parse(self, pieces, parse):
        """``parse(piece, rows)`` over each piece; it yields ("block", (_, local_start,
        values, weights)) and one ("meta", dict). The result is a cached DataFrame of ``PARSED``
        rows (a meta row has kind "meta" and its dict as ``wire`` bytes)."""
        source, columns = pieces

        def rows_of(batches):
            for batch in batches:
                lists = [batch.column(name).to_pylist() for name in columns]
                yield from zip(batch.column("piece").to_pylist(), zip(*lists))

        def per_partition(batches):
            for piece, group in itertools.groupby(rows_of(batches), key=lambda r: r[0]):
                yield from _parsed_batches(piece, parse(piece, (values for _, values in group)))

        return source.mapInArrow(per_partition, PARSED).cache()

    def parse_frame(self, frame, parse):
        """``parse(piece, batches)`` over each Spark partition of ``frame`` (the piece is the
        partition's number, the batches its Arrow record batches), as ``parse`` gives."""
        return parsed_frame(frame, parse).cache()

    def fold_frame(self, frame, fold):
        """``fold(piece, batches)`` of each Spark partition of ``frame`` (its Arrow record
        batches), gathered in partition order; nothing cached."""

        def per_partition(batches):
            from pyspark import TaskContext

            return fold(TaskContext.get().partitionId(), batches)

        return _gathered(frame, per_partition)

    def metas(self, parsed):
        from pyspark.sql import functions as F

        rows = parsed.where(F.col("kind") == "meta").select("payload").collect()
        return sorted((wire.decode(r.payload) for r in rows), key=lambda m: m["partition"])

    def place(self, parsed, starts):
        """The parsed blocks at their global rows: a projection of the cached parsed rows (the
        first row of each piece looked up in a literal map), not a second cached copy."""
        from pyspark.sql import functions as F

        bases = F.create_map(
            *[F.lit(v).cast("long") for p, s in starts.items() for v in (int(p), int(s))]
        )
        blocks = parsed.where(F.col("kind") != "meta").select(
            (F.col("local") + bases[F.col("piece")]).alias("offset"), "kind", "payload"
        )
        return derived(blocks, parsed)


FRAME = FrameBackend()
