"""Outputs of a fitted masked mixture that scale with the ratings, not with users × items.

- ``predict``: Σ_j p(j|u) μ_{j,i} for given (user, item) pairs, a DataFrame in and out. A user
  with no ratings gets the prior (p(j|u) = p_j), or null; an item the model never saw gets
  null.
- ``recommend``: each user's top-N unrated items by completed value, as ALS's
  ``recommendForAllUsers`` gives them: ``user, recommendations array<struct<item, rating>>``
  (for all users, or a subset).
- ``recommend_items``: each item's top-N users who have not rated it, as ALS's
  ``recommendForAllItems``: ``item, recommendations array<struct<user, rating>>``.
- ``new_user_predictions``: the same predictions for the rows of a pandas DataFrame, every
  user scored from their rows in it alone (numpy only: what the MLflow pyfunc serves).

Both work on the sparse blocks of ``spark_em.io.triples`` and speak the original ids. Results
leave the executors as Arrow record batches, one serialized table per block, and are unpacked
into DataFrame rows by ``mapInArrow``: no row passes through the driver.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
from scipy import sparse

from spark_em.engine import ops
from spark_em.engine.backend import carried
from spark_em.errors import InputError
from spark_em.io.triples import RatingsIndex, positions
from spark_em.kernels import masked
from spark_em.kernels.arrays import out_of_range, value_problem


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


def predict(
    spark,
    blocks,
    index: RatingsIndex,
    mixture: masked.SphericalMixture,
    pairs,
    user_col: str = "user",
    item_col: str = "item",
    prediction_col: str = "prediction",
    unknown_users: str = "prior",
):
    """``pairs`` with a ``prediction`` column: the completed value of each (user, item). A
    user who is not in the data gets the prior's prediction (``unknown_users="prior"``) or
    null (``"null"``)."""
    from pyspark.sql import functions as F

    for name in (user_col, item_col):
        if name not in pairs.columns:
            raise InputError(
                f"no column {name!r} in the pairs; they have {', '.join(pairs.columns)}"
            )
    taken = sorted({"_row", "_col", "_post", prediction_col} & set(pairs.columns))
    if taken:
        raise InputError(
            f"the pairs already have a column named {', '.join(taken)}; "
            "rename it or choose another prediction column"
        )
    mixture = masked.SphericalMixture(*(np.asarray(a, dtype=np.float64) for a in mixture))
    k = len(mixture.weights)

    def pack_posteriors(block):
        offset, post = block.offset, masked.posterior(block.values, mixture)[0]
        rows = np.arange(offset, offset + post.shape[0], dtype=np.int64)
        offsets = pa.array(np.arange(0, post.size + 1, k, dtype=np.int32))
        return _to_ipc(
            pa.table(
                {"_row": rows, "_post": pa.ListArray.from_arrays(offsets, pa.array(post.ravel()))}
            )
        )

    posts = _frame(spark, blocks, pack_posteriors, "_row long, _post array<double>")
    ids = index.shared(spark)

    def locate(batches):
        users, items = ids.value
        for batch in batches:
            table = pa.Table.from_batches([batch])
            rows = _column_positions(users, batch.column(user_col))
            cols = _column_positions(items, batch.column(item_col))
            yield from (
                table.append_column("_row", pa.array(rows))
                .append_column("_col", pa.array(cols))
                .to_batches()
            )

    located = pairs.mapInArrow(
        locate, _with_fields(pairs.schema, ("_row", "long"), ("_col", "long"))
    )
    joined = located.join(posts, on="_row", how="left")
    params = carried((mixture.means, mixture.weights))

    def score(batches):
        mu, prior = params.value
        for batch in batches:
            cols = batch.column("_col").to_numpy(zero_copy_only=False)
            post_col = batch.column("_post")
            post = np.tile(prior, (batch.num_rows, 1))
            known = ~np.asarray(post_col.is_null().to_numpy(zero_copy_only=False))
            if known.any():
                values = np.asarray(
                    post_col.filter(pa.array(known)).flatten().to_numpy(), dtype=np.float64
                )
                post[known] = values.reshape(-1, len(prior))
            seen = cols >= 0
            if unknown_users == "null":
                seen &= batch.column("_row").to_numpy(zero_copy_only=False) >= 0
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
        blank = (
            "" if pa.types.is_string(column.type) or pa.types.is_large_string(column.type) else 0
        )
        column = pc.fill_null(column, pa.scalar(blank, column.type))
    at = positions(sorted_ids, column.to_numpy(zero_copy_only=False))
    at[nulls] = -1
    return at


def recommend(
    spark,
    blocks,
    index: RatingsIndex,
    mixture: masked.SphericalMixture,
    n: int,
    user_col: str = "user",
    item_col: str = "item",
    users=None,
):
    """Each user's ``n`` unrated items with the highest completed value, best first; with
    ``users`` (ids), only those users that are in the data."""
    _check_n(n)
    ids = index.shared(spark)
    wanted = None if users is None else np.unique(index.rows_of(np.asarray(users)))
    wanted = None if wanted is None else carried(wanted[wanted >= 0])
    mixture = masked.SphericalMixture(*(np.asarray(a, dtype=np.float64) for a in mixture))
    user_type = _arrow_id(index.users)  # outside ``pack``: the id lists travel by ``ids`` alone
    entry = pa.struct([(item_col, _arrow_id(index.items)), ("rating", pa.float64())])

    def pack(block):
        users_ids, items = ids.value
        local = np.arange(block.values.shape[0])
        values = block.values
        if wanted is not None:
            rows = wanted.value
            local = rows[(rows >= block.offset) & (rows < block.offset + len(local))] - block.offset
            values = values[local]
        cols, vals = (
            masked.top_unobserved(values, mixture, n)
            if len(local)
            else (np.empty((0, 0), dtype=np.int64), np.empty((0, 0)))
        )
        lists = []
        for c, v in zip(cols, vals):
            keep = c >= 0
            lists.append(
                [{item_col: items[i].item(), "rating": float(x)} for i, x in zip(c[keep], v[keep])]
            )
        row_ids = users_ids[block.offset + local]
        return _to_ipc(
            pa.table(
                {
                    user_col: pa.array(row_ids.tolist(), user_type),
                    "recommendations": pa.array(lists, type=pa.list_(entry)),
                }
            )
        )

    schema = (
        f"`{user_col}` {_id_type(index.users)}, recommendations "
        f"array<struct<`{item_col}`: {_id_type(index.items)}, rating: double>>"
    )
    return _frame(spark, blocks, pack, schema)


def recommend_items(
    spark,
    blocks,
    index: RatingsIndex,
    mixture: masked.SphericalMixture,
    n: int,
    user_col: str = "user",
    item_col: str = "item",
    items=None,
):
    """Each item's ``n`` users (among those who have not rated it) with the highest completed
    value, best first (an empty list when every user rated it); with ``items`` (ids), only
    those items that are in the data. Each block of users proposes its best ``n`` per item;
    one aggregation per item keeps the best ``n`` of all."""
    from pyspark.sql import functions as F

    _check_n(n)
    ids = index.shared(spark)
    columns = None if items is None else np.unique(positions(index.items, np.asarray(items)))
    columns = np.arange(len(index.items)) if columns is None else columns[columns >= 0]
    mixture = masked.SphericalMixture(*(np.asarray(a, dtype=np.float64) for a in mixture))
    user_type, item_type = _arrow_id(index.users), _arrow_id(index.items)

    def pack(block):
        users_ids, items_ids = ids.value
        rows, vals = masked.top_rows_per_column(block.values, mixture, n, columns)
        keep = rows >= 0
        col_of = np.broadcast_to(columns[None, :], rows.shape)[keep]
        return _to_ipc(
            pa.table(
                {
                    "_item": pa.array(items_ids[col_of].tolist(), item_type),
                    "_user": pa.array(users_ids[block.offset + rows[keep]].tolist(), user_type),
                    "_rating": pa.array(vals[keep], pa.float64()),
                }
            )
        )

    schema = f"_item {_id_type(index.items)}, _user {_id_type(index.users)}, _rating double"
    proposals = _frame(spark, blocks, pack, schema)
    best = F.slice(
        F.sort_array(F.collect_list(F.struct(F.col("_rating"), F.col("_user"))), asc=False), 1, n
    )
    ranked = F.transform(
        best, lambda e: F.struct(e["_user"].alias(user_col), e["_rating"].alias("rating"))
    )
    found = proposals.groupBy("_item").agg(ranked.alias("recommendations"))
    every = spark.createDataFrame(
        [(v,) for v in index.items[columns].tolist()], f"_item {_id_type(index.items)}"
    )
    nobody = F.array().cast(f"array<struct<`{user_col}`: {_id_type(index.users)}, rating: double>>")
    return every.join(found, "_item", "left").select(
        F.col("_item").alias(item_col),
        F.coalesce(F.col("recommendations"), nobody).alias("recommendations"),
    )


def _check_n(n: int) -> None:
    if n < 1:
        raise InputError(f"{{param}} must be >= 1, got {n}", param="n")


def _arrow_id(ids: np.ndarray):
    return pa.string() if ids.dtype.kind in "US" else pa.int64()


def new_user_predictions(
    mixture: masked.SphericalMixture,
    items: np.ndarray,
    frame: pd.DataFrame,
    columns: tuple[str, str, str],
) -> np.ndarray:
    """Each (user, item) row's predicted rating, E[rating] under the user's posterior over the
    components. The posterior comes from that user's rated rows in ``frame`` alone (``columns``
    names the user, item and rating columns; a row without a rating is only asked about),
    with the parameters fixed: each user in ``frame`` is scored as a new user. A user with no
    rated row gets the prior's prediction; an item not in ``items`` gets NaN."""
    user, item, rating = columns
    missing = [c for c in (user, item) if c not in frame.columns]
    if missing:
        raise InputError(
            f"model_input has no column {', '.join(map(repr, missing))}; "
            f"it has {', '.join(map(str, frame.columns))}"
        )
    codes, users = pd.factorize(frame[user])
    cols = positions(items, frame[item].to_numpy())
    rated = np.zeros(len(frame), dtype=bool)
    given = np.zeros(len(frame))
    if rating in frame.columns:
        given = pd.to_numeric(frame[rating], errors="coerce").to_numpy(dtype=np.float64)
        rated = ~np.isnan(given)  # an empty rating asks for a prediction
        bad = rated & out_of_range(given)
        if bad.any():
            raise InputError(
                f"model_input: a {rating!r} of {value_problem(given[bad][0])}: a rating must be "
                "a finite positive number"
            )
        if (given[rated] <= 0).any():
            raise InputError(
                f"model_input: a {rating!r} must be a positive number (0 means "
                "no rating: leave it empty to ask for a prediction)"
            )
        rated &= (cols >= 0) & (codes >= 0)
        pairs = pd.DataFrame({"u": codes[rated], "i": cols[rated]})
        if pairs.duplicated().any():
            raise InputError(f"model_input: a user rates an item twice in {rating!r}")
    X = sparse.csr_array(
        (given[rated], (codes[rated], cols[rated])), shape=(len(users), len(items))
    )
    post = masked.posterior(X, mixture)[0]
    known = (cols >= 0) & (codes >= 0)
    prediction = np.full(len(frame), np.nan)
    mu = np.asarray(mixture.means, dtype=np.float64)
    prediction[known] = np.einsum("nk,kn->n", post[codes[known]], mu[:, cols[known]])
    return prediction
