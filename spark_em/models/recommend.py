"""Outputs of a fitted masked mixture that scale with the ratings, not with users × items.

- ``predict``: Σ_j p(j|u) μ_{j,i} for given (user, item) pairs, a DataFrame in and out. A user
  with no ratings gets the prior (p(j|u) = p_j); an item the model never saw gets null.
- ``recommend``: each user's top-N unrated items by completed value, as ALS's
  ``recommendForAllUsers`` gives them: ``user, recommendations array<struct<item, rating>>``.

Both work on the sparse blocks of ``spark_em.io.triples`` and speak the original ids. Results
leave the executors as Arrow record batches, one serialized table per block, and are unpacked
into DataFrame rows by ``mapInArrow``: no row passes through the driver.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from spark_em.engine import ops
from spark_em.engine.backend import shared
from spark_em.errors import InputError
from spark_em.io.triples import RatingsIndex, positions
from spark_em.kernels import masked


def _to_ipc(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def _frame(spark, blocks, pack, schema: str):
    """A DataFrame of the rows of the Arrow tables ``pack(block)`` serializes, over all blocks."""
    def expand(batches):
        for batch in batches:
            for payload in batch.column(0).to_pylist():
                yield from pa.ipc.open_stream(payload).read_all().to_batches()

    return ops.payloads(spark, blocks, pack).mapInArrow(expand, schema)


def _with_fields(schema, *fields):
    """A copy of a DataFrame schema with (name, type) fields added at the end."""
    from pyspark.sql.types import DoubleType, LongType, StructField, StructType

    kinds = {"long": LongType(), "double": DoubleType()}
    return StructType(list(schema.fields) + [StructField(n, kinds[t]) for n, t in fields])


def _id_type(ids: np.ndarray) -> str:
    return "string" if ids.dtype.kind in "US" else "long"


def predict(spark, blocks, index: RatingsIndex, mixture: masked.Mixture, pairs,
            user_col: str = "user", item_col: str = "item", prediction_col: str = "prediction"):
    """``pairs`` with a ``prediction`` column: the completed value of each (user, item)."""
    from pyspark.sql import functions as F

    for name in (user_col, item_col):
        if name not in pairs.columns:
            raise InputError(f"no column {name!r} in the pairs; they have {', '.join(pairs.columns)}")
    taken = sorted({"_row", "_col", "_post", prediction_col} & set(pairs.columns))
    if taken:
        raise InputError(f"the pairs already have a column named {', '.join(taken)}; "
                         "rename it or choose another prediction column")
    mixture = masked.Mixture(*(np.asarray(a, dtype=np.float64) for a in mixture))
    k = len(mixture.p)

    def pack_posteriors(block):
        offset, post = block.offset, masked.posterior(block.values, mixture)[0]
        rows = np.arange(offset, offset + post.shape[0], dtype=np.int64)
        offsets = pa.array(np.arange(0, post.size + 1, k, dtype=np.int32))
        return _to_ipc(pa.table({"_row": rows, "_post": pa.ListArray.from_arrays(
            offsets, pa.array(post.ravel()))}))

    posts = _frame(spark, blocks, pack_posteriors, "_row long, _post array<double>")
    ids = shared(spark, (index.users, index.items))

    def locate(batches):
        users, items = ids.value
        for batch in batches:
            table = pa.Table.from_batches([batch])
            rows = _column_positions(users, batch.column(user_col))
            cols = _column_positions(items, batch.column(item_col))
            yield from table.append_column("_row", pa.array(rows)).append_column(
                "_col", pa.array(cols)).to_batches()

    located = pairs.mapInArrow(locate, _with_fields(pairs.schema, ("_row", "long"), ("_col", "long")))
    joined = located.join(posts, on="_row", how="left")
    params = shared(spark, (mixture.mu, mixture.p))

    def score(batches):
        mu, prior = params.value
        for batch in batches:
            cols = batch.column("_col").to_numpy(zero_copy_only=False)
            post_col = batch.column("_post")
            post = np.tile(prior, (batch.num_rows, 1))
            known = ~np.asarray(post_col.is_null().to_numpy(zero_copy_only=False))
            if known.any():
                values = np.asarray(post_col.filter(pa.array(known)).flatten().to_numpy(), dtype=np.float64)
                post[known] = values.reshape(-1, len(prior))
            seen = cols >= 0
            value = np.full(batch.num_rows, np.nan)
            value[seen] = np.einsum("ij,ji->i", post[seen], mu[:, cols[seen]])
            out = pa.Table.from_batches([batch]).drop_columns(["_row", "_col", "_post"])
            yield from out.append_column(prediction_col, pa.array(value, mask=~seen)).to_batches()

    schema = _with_fields(pairs.schema, (prediction_col, "double"))
    return joined.mapInArrow(score, schema).select(*pairs.columns, F.col(prediction_col))


def _column_positions(sorted_ids: np.ndarray, column: pa.Array) -> np.ndarray:
    """Row (or column) of each id in an Arrow column, −1 for nulls and unknown ids."""
    import pyarrow.compute as pc

    nulls = np.asarray(column.is_null().to_numpy(zero_copy_only=False))
    if nulls.any():
        blank = "" if pa.types.is_string(column.type) or pa.types.is_large_string(column.type) else 0
        column = pc.fill_null(column, pa.scalar(blank, column.type))
    at = positions(sorted_ids, column.to_numpy(zero_copy_only=False))
    at[nulls] = -1
    return at


def recommend(spark, blocks, index: RatingsIndex, mixture: masked.Mixture, n: int):
    """Each user's ``n`` unrated items with the highest completed value, best first."""
    if n < 1:
        raise InputError(f"{{param}} must be >= 1, got {n}", param="n")
    ids = shared(spark, (index.users, index.items))
    mixture = masked.Mixture(*(np.asarray(a, dtype=np.float64) for a in mixture))
    item_type = pa.string() if index.items.dtype.kind in "US" else pa.int64()
    entry = pa.struct([("item", item_type), ("rating", pa.float64())])

    def pack(block):
        users, items = ids.value
        cols, vals = masked.top_unobserved(block.values, mixture, n)
        lists = []
        for c, v in zip(cols, vals):
            keep = c >= 0
            lists.append([{"item": items[i].item(), "rating": float(x)} for i, x in zip(c[keep], v[keep])])
        row_ids = users[block.offset:block.offset + len(lists)]
        return _to_ipc(pa.table({"user": pa.array(row_ids.tolist()),
                                 "recommendations": pa.array(lists, type=pa.list_(entry))}))

    schema = (f"user {_id_type(index.users)}, "
              f"recommendations array<struct<item: {_id_type(index.items)}, rating: double>>")
    return _frame(spark, blocks, pack, schema)
