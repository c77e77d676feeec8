"""Ratings as (user, item, rating) records: CSV, Parquet or a DataFrame, onto sparse blocks.

User and item ids may be integers or strings. They are mapped to rows and columns in sorted
order (numeric order for numbers), so ids 0..n−1 land on rows 0..n−1, and the mapping
(``RatingsIndex``) travels with the model: every output speaks the original ids.

The records are checked on the way in: a null or non-numeric field, a rating that is not a
finite positive number (0 marks a missing entry in the model, so a 0 rating cannot be told
from no rating), a rating outside a declared range and a (user, item) pair rated twice each
stop the load with one ``InputError`` naming the record, unless ``on_bad_rows="drop"``, which
drops those records and counts them. Blocks of users are built on the executors: each record
gets its row and column from the broadcast id lists, one shuffle brings a block's records
together, and each block becomes a CSR array (``kernels.arrays.sparse_values``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from spark_em.engine import ops
from spark_em.engine.backend import backend_for, default_parallelism, release, shared
from spark_em.engine.block import DEFAULT_BLOCK_ROWS, pack
from spark_em.engine.compat import frame_of_arrow, try_cast
from spark_em.errors import InputError, executor_errors
from spark_em.kernels.arrays import MAX_MAGNITUDE, sparse_values

# Records per partition when blocks are built: enough work per task, little memory per task.
RECORDS_PER_PARTITION = 4_000_000


@dataclass
class RatingsIndex:
    """The ids behind rows (``users``) and columns (``items``), each sorted."""

    users: np.ndarray
    items: np.ndarray
    _shared: Any = field(default=None, init=False, repr=False, compare=False)

    def shared(self, spark):
        """(users, items) for the executors: one broadcast for the index's lifetime, made on
        first use and reused by every pass and output that reads the ids."""
        if self._shared is None:
            self._shared = shared(spark, (self.users, self.items))
        return self._shared

    def release(self) -> None:
        """Destroy the broadcast ``shared`` made (the index can share again later)."""
        if self._shared is not None:
            release(self._shared)
            self._shared = None

    @classmethod
    def positional(cls, shape: tuple[int, int]) -> RatingsIndex:
        """The ids of a matrix input: its row and column numbers from 0."""
        return cls(np.arange(shape[0]), np.arange(shape[1]))

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.users), len(self.items)

    def rows_of(self, user_ids) -> np.ndarray:
        """Row of each user id, −1 for ids not in the data."""
        return positions(self.users, user_ids)

    def save(self, directory: str) -> None:
        """``users.npy`` and ``items.npy`` (numbers or fixed-width strings, never objects)."""
        np.save(os.path.join(directory, "users.npy"), self.users, allow_pickle=False)
        np.save(os.path.join(directory, "items.npy"), self.items, allow_pickle=False)

    @classmethod
    def load(cls, directory: str) -> RatingsIndex:
        try:
            users = np.load(os.path.join(directory, "users.npy"), allow_pickle=False)
            items = np.load(os.path.join(directory, "items.npy"), allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise InputError(f"{directory}: unreadable id lists ({exc})") from None
        return cls(users, items)


def positions(sorted_ids: np.ndarray, wanted) -> np.ndarray:
    """Index of each wanted id in ``sorted_ids``, −1 where it is absent. Each id is matched on
    its own: with integer ids, a wanted value that is not a whole number (a word, 2.5, NaN)
    matches nothing; with string ids, values are compared as text."""
    wanted = np.asarray(wanted)
    if sorted_ids.dtype.kind in "US":
        wanted = wanted.astype(str)
        valid = np.ones(len(wanted), dtype=bool)
    elif wanted.dtype.kind in "iu":
        valid = np.ones(len(wanted), dtype=bool)
        wanted = wanted.astype(np.int64)
    else:
        if wanted.dtype.kind != "f":
            import pandas as pd

            wanted = pd.to_numeric(pd.Series(wanted, dtype=object), errors="coerce").to_numpy(
                dtype=np.float64
            )
        valid = np.isfinite(wanted) & (wanted == np.round(wanted)) & (np.abs(wanted) < 2**53)
        wanted = np.where(valid, wanted, 0).astype(np.int64)
    if len(sorted_ids) == 0:
        return np.full(len(wanted), -1, dtype=np.int64)
    at = np.searchsorted(sorted_ids, wanted)
    at_clipped = np.minimum(at, len(sorted_ids) - 1)
    found = valid & (at < len(sorted_ids)) & (sorted_ids[at_clipped] == wanted)
    return np.where(found, at_clipped, -1).astype(np.int64)


def _id_array(values: list) -> np.ndarray:
    """Sorted ids: an integer array when every id is a whole number, else strings."""
    array = np.array(values)
    if array.dtype.kind in "iu":
        return np.sort(array.astype(np.int64))
    if array.dtype.kind == "f" and np.all(np.isfinite(array)) and np.all(array == np.round(array)):
        return np.sort(array.astype(np.int64))
    return np.sort(array.astype(str))


def _check_columns(df, user_col: str, item_col: str, rating_col: str) -> None:
    from pyspark.sql.types import NumericType, StringType

    for name in (user_col, item_col, rating_col):
        if name not in df.columns:
            raise InputError(f"no column {name!r}; the records have {', '.join(df.columns)}")
    for name in (user_col, item_col):
        kind = df.schema[name].dataType
        if not isinstance(kind, (NumericType, StringType)):
            raise InputError(
                f"column {name!r} must hold numbers or strings, not {kind.simpleString()}"
            )


def _id_column(df, name: str):
    """An id column as the driver and the executors will both see it: 32-bit floats widened to
    doubles (their Python values would not match the executors' otherwise)."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import FloatType

    column = F.col(name)
    return column.cast("double") if isinstance(df.schema[name].dataType, FloatType) else column


def _bad_record_condition(df, user_col, item_col, rating_col, rating_range):
    """(A boolean column true for records that cannot be used, the reason as a column)."""
    from pyspark.sql import functions as F

    rating = try_cast(rating_col, "double")
    low, high = rating_range if rating_range else (None, None)
    from pyspark.sql.types import DoubleType, FloatType

    def missing(name):
        column = F.col(name)
        if isinstance(df.schema[name].dataType, (DoubleType, FloatType)):
            return column.isNull() | F.isnan(column)
        return column.isNull()

    reasons = [
        (missing(user_col), F.lit("the user id is missing or NaN")),
        (missing(item_col), F.lit("the item id is missing or NaN")),
        (F.col(rating_col).isNull(), F.lit("the rating is missing")),
        (
            rating.isNull(),
            F.concat(F.lit("rating "), F.col(rating_col).cast("string"), F.lit(" is not a number")),
        ),
        (
            F.isnan(rating) | (F.abs(rating) == float("inf")),
            F.concat(F.lit("rating "), rating.cast("string"), F.lit(" is not a finite number")),
        ),
        (
            rating <= 0,
            F.concat(
                F.lit("rating "),
                rating.cast("string"),
                F.lit(" is not positive (0 marks a missing entry)"),
            ),
        ),
        (
            rating > MAX_MAGNITUDE,
            F.concat(
                F.lit("rating "),
                rating.cast("string"),
                F.lit(f" is too large (the largest magnitude taken is {MAX_MAGNITUDE:g})"),
            ),
        ),
    ]
    if low is not None:
        reasons.append(
            (
                (rating < low) | (rating > high),
                F.concat(
                    F.lit("rating "),
                    rating.cast("string"),
                    F.lit(f" is outside the declared range {low:g}–{high:g}"),
                ),
            )
        )
    bad = reasons[0][0]
    for cond, _ in reasons[1:]:
        bad = bad | cond
    reason = F.when(reasons[0][0], reasons[0][1])
    for cond, text in reasons[1:]:
        reason = reason.when(cond, text)
    return bad, reason


@dataclass(eq=False)
class TripleRatings:
    """Sparse blocks of the ratings, the id mapping, and what the load counted. ``release()``
    frees what they hold on the cluster (the cached blocks, the ids' broadcast) once nothing
    will read them again."""

    blocks: object  # cached blocks with CSR values
    index: RatingsIndex
    n_ratings: int
    n_dropped: int = 0
    released: bool = False

    def release(self) -> None:
        ops.release(self.blocks)
        self.index.release()
        self.released = True


@executor_errors()
def read_triples(
    df,
    user_col: str = "user",
    item_col: str = "item",
    rating_col: str = "rating",
    rating_range: tuple[float, float] | None = None,
    on_bad_rows: str = "error",
    block_rows: int = DEFAULT_BLOCK_ROWS,
    num_partitions: int | None = None,
    describe: str = "the ratings",
    backend: str | None = None,
) -> TripleRatings:
    """Cached CSR blocks of users from a DataFrame of (user, item, rating) records, on the
    backend ``backend`` names (by default, that of ``df``'s session).

    Users become rows and items columns, each in sorted id order (see the module's
    docstring); a record with a missing id, a rating that is not a finite number > 0 (or is
    outside ``rating_range``), or a (user, item) pair rated twice stops the load, naming it.

    Parameters
    ----------
    df : pyspark.sql.DataFrame
        The records.
    user_col, item_col : str, default "user", "item"
        The columns of user and item ids (numbers or strings).
    rating_col : str, default "rating"
        The column of ratings.
    rating_range : tuple of float, optional
        (low, high): ratings outside it are refused (or dropped).
    on_bad_rows : {"error", "drop"}, default "error"
        Stop at the first bad record, or leave out bad records (and both records of a pair
        rated twice) and count them (``n_dropped``).
    block_rows : int, default 4096
        Users per block.
    num_partitions : int, optional
        Partitions the records are shuffled into; by default enough for the cluster and for
        at most 4 million records each.
    describe : str, default "the ratings"
        How error messages name the records.
    backend : {"rdd", "dataframe"}, optional
        Where the blocks live; by default what ``df``'s session allows (RDD blocks in a
        classic session, the DataFrame backend under Spark Connect).

    Returns
    -------
    TripleRatings
        ``blocks`` (users × items, CSR values, 0 = not rated), ``index`` (the user and item
        ids behind rows and columns, ``RatingsIndex``), ``n_ratings`` and ``n_dropped``;
        ``release()`` frees the cached blocks and the ids' broadcast.

    Examples
    --------
    >>> from spark_em import get_spark, read_frame, read_triples
    >>> from spark_em.models import masked
    >>> spark = get_spark()
    >>> data = read_triples(read_frame(spark, "ratings.csv"), "userId", "movieId", "rating")
    >>> data.n_ratings, len(data.index.users), len(data.index.items)
    >>> run = masked.fit(data.blocks, 12, 0)
    >>> data.release()
    """
    from pyspark.sql import functions as F

    if on_bad_rows not in ("error", "drop"):
        raise InputError(
            f"{{param}} must be 'error' or 'drop', not {on_bad_rows!r}", param="on_bad_rows"
        )
    _check_columns(df, user_col, item_col, rating_col)
    spark = df.sparkSession
    chosen = backend_for(spark, backend)
    bad, reason = _bad_record_condition(df, user_col, item_col, rating_col, rating_range)
    records = df.select(
        _id_column(df, user_col).alias("u"),
        _id_column(df, item_col).alias("i"),
        F.col(rating_col).alias("r"),
        bad.alias("bad"),
        reason.alias("why"),
    )
    n_dropped = 0
    if on_bad_rows == "error":
        first_bad = records.where("bad").limit(1).collect()
        if first_bad:
            row = first_bad[0]
            raise InputError(f"{describe}: user {row.u!r} item {row.i!r}: {row.why}")
        good = records
    else:
        records = records.cache()
        n_dropped = records.where("bad").count()
        good = records.where(~F.col("bad"))
    good = good.select("u", "i", try_cast("r", "double").alias("r"))
    if on_bad_rows == "drop":  # both records of a pair rated twice go, before ids are listed
        counts = good.groupBy("u", "i").count()
        n_dropped += counts.where("count > 1").agg(F.sum("count")).first()[0] or 0
        good = good.join(counts.where("count = 1").select("u", "i"), ["u", "i"])
    per_user = good.groupBy("u").count().collect()
    if not per_user:
        raise InputError(f"{describe}: no ratings")
    users = _id_array([r[0] for r in per_user])
    n_records = sum(r[1] for r in per_user)
    items = _id_array([r[0] for r in good.select("i").distinct().collect()])
    index = RatingsIndex(users, items)
    n_parts = num_partitions or max(
        default_parallelism(spark), -(-n_records // RECORDS_PER_PARTITION)
    )
    try:
        packed = _packed_blocks(good, index, block_rows, n_parts, describe)
        blocks = chosen.from_records(
            packed.where(F.col("problem").isNull()).select(
                (F.col("block") * block_rows).alias("offset"), F.lit("csr").alias("kind"), "payload"
            )
        )
        packed.unpersist()
    finally:
        if on_bad_rows == "drop":
            records.unpersist()
    n_ratings = int(ops.reduce(blocks, lambda b: b.values.nnz, lambda a, b: a + b))
    return TripleRatings(blocks, index, n_ratings, int(n_dropped))


_BLOCK_SCHEMA = pa.schema(
    [("block", pa.int64()), ("payload", pa.binary()), ("problem", pa.string())]
)


def _block_records(table: pa.Table, ids, block_rows: int, shape: tuple[int, int]):
    """One record per block of the located ratings in ``table``; a repeated (user, item) or an
    id that found no row or column gives a problem record instead."""
    block, row, col, r = (table.column(n).to_numpy() for n in ("block", "row", "col", "r"))
    if (row < 0).any() or (col < 0).any():
        yield dict(
            block=-1,
            payload=None,
            problem="an id did not match the ids collected from "
            "the same records (ids must be whole numbers, text, or finite doubles)",
        )
        return
    # by block alone (the CSR conversion sorts each row's columns); a block whose matrix holds
    # fewer entries than records has a (user, item) rated twice
    order = np.argsort(block, kind="stable")
    block, row, col, r = block[order], row[order], col[order], r[order]
    starts = np.flatnonzero(np.r_[True, block[1:] != block[:-1]]) if len(block) else []
    out = []
    for lo, hi in zip(starts, np.r_[starts[1:], len(block)]):
        first = int(block[lo]) * block_rows
        matrix = sparse_values(
            row[lo:hi] - first, col[lo:hi], r[lo:hi], (min(block_rows, shape[0] - first), shape[1])
        )
        if matrix.nnz < hi - lo:
            yield _repeated_pair(row[lo:hi], col[lo:hi], r[lo:hi], ids)
            return
        out.append(dict(block=int(block[lo]), payload=pack(matrix)[1], problem=None))
    yield from out


def _repeated_pair(row: np.ndarray, col: np.ndarray, r: np.ndarray, ids) -> dict:
    """The problem record naming the first (user, item) pair, in row then column order, that
    these records rate more than once."""
    order = np.lexsort((col, row))
    row, col, r = row[order], col[order], r[order]
    at = int(np.flatnonzero((row[1:] == row[:-1]) & (col[1:] == col[:-1]))[0])
    users, items = ids
    return dict(
        block=-1,
        payload=None,
        problem=(
            f"user {users[row[at]].item()!r} item {items[col[at]].item()!r} is rated more than "
            f"once ({r[at]:g} and {r[at + 1]:g})"
        ),
    )


def _located(good, index: RatingsIndex, block_rows: int):
    """The records (u, i, r) as (block, row, col, r): each id's row or column looked up in the
    JVM, by a broadcast join with the sorted ids (the same ids the driver holds, so numbers,
    text and whole doubles match as ``positions`` matches them); an id that matches nothing
    gets row or column −1."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import DecimalType

    spark = good.sparkSession

    def numbered(ids: np.ndarray, key: str, position: str):
        table = pa.table({key: pa.array(ids), position: pa.array(np.arange(len(ids)), pa.int64())})
        # a join hint (the small id table goes whole to every task), not a broadcast variable
        return frame_of_arrow(spark, table).hint("broadcast")

    def as_key(name: str):  # decimals are held as their text (a join would compare doubles)
        column = F.col(name)
        return (
            column.cast("string") if isinstance(good.schema[name].dataType, DecimalType) else column
        )

    keyed = good.withColumn("u", as_key("u")).withColumn("i", as_key("i"))
    rows = F.coalesce(F.col("row"), F.lit(-1))
    return (
        keyed.join(numbered(index.users, "u", "row"), "u", "left")
        .join(numbered(index.items, "i", "col"), "i", "left")
        .select(
            F.when(rows >= 0, F.floor(rows / block_rows)).otherwise(-1).cast("long").alias("block"),
            rows.cast("long").alias("row"),
            F.coalesce(F.col("col"), F.lit(-1)).cast("int").alias("col"),
            F.col("r").cast("double").alias("r"),
        )
    )


def _packed_blocks(good, index: RatingsIndex, block_rows: int, n_parts: int, describe: str):
    """A cached DataFrame (block, payload, problem) of the CSR blocks of users, built on the
    executors (one shuffle); a repeated pair or an unmatched id is an ``InputError``."""
    from pyspark.sql import functions as F

    ids = index.shared(good.sparkSession)
    shape = index.shape

    def assemble(batches):
        batches = list(batches)
        table = pa.Table.from_batches(batches) if batches else None
        if table is not None and table.num_rows:
            records = list(_block_records(table, ids.value, block_rows, shape))
            if records:
                yield pa.RecordBatch.from_pylist(records, schema=_BLOCK_SCHEMA)

    located = _located(good, index, block_rows)
    packed = (
        located.repartition(n_parts, "block")
        .mapInArrow(assemble, "block long, payload binary, problem string")
        .cache()
    )
    problems = [r.problem for r in packed.where(F.col("problem").isNotNull()).limit(1).collect()]
    if problems:
        packed.unpersist()
        raise InputError(f"{describe}: {problems[0]}")
    return packed
