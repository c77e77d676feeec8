"""The MLflow pyfunc of a spark-em model: ``predict`` on a pandas DataFrame, with numpy only
(no Spark), through the same per-block ``compute`` the model's ``transform`` runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
from pyspark.ml.linalg import VectorUDT
from scipy import sparse

from spark_em.errors import InputError
from spark_em.mlflow import artifact

try:
    from mlflow.pyfunc import PythonModel
except ImportError as exc:  # pragma: no cover - the mlflow extra is missing
    raise ImportError("spark_em.mlflow needs MLflow: pip install 'spark-em[mlflow]'") from exc


class SparkEmModel(PythonModel):
    """Loads the logged model from its artifact; ``predict`` returns the model's outputs."""

    def load_context(self, context):
        self.model = artifact.read(Path(context.artifacts["model"]))

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        return predict(self.model, model_input)


def predict(model, frame: pd.DataFrame) -> pd.DataFrame:
    """``model``'s outputs for the rows of ``frame``, a DataFrame with the model's features
    column (lists or arrays of numbers; a null row gives null outputs); for the recommender,
    (user, item[, rating]) rows, see ``recommender_predictions``."""
    if not isinstance(frame, pd.DataFrame):
        raise InputError(f"model_input: a pandas DataFrame is needed, not {type(frame).__name__}")
    if type(model).__name__ == "MixtureRecommenderModel":
        return recommender_predictions(model, frame)
    column = model.getFeaturesCol()
    if column not in frame.columns:
        raise InputError(
            f"model_input has no column {column!r} (the model's featuresCol); "
            f"it has {', '.join(map(str, frame.columns))}"
        )
    values = frame[column]
    present = values.notna().to_numpy()
    fields, compute = model._outputs()
    out = {}
    computed = compute(_matrix(values[present])) if present.any() else None
    for i, field in enumerate(fields):
        result = None if computed is None else np.asarray(computed[i])
        if isinstance(field.dataType, VectorUDT):  # a list per row
            column_values = [None] * len(frame)
            for row, vector in zip(np.flatnonzero(present), [] if result is None else result):
                column_values[row] = vector.tolist()
            out[field.name] = column_values
        else:
            full = np.full(len(frame), np.nan)
            if result is not None:
                full[present] = result
            integer = field.dataType.typeName() == "integer"
            out[field.name] = (
                (full.astype(np.int64) if present.all() else pd.Series(full).astype("Int64").array)
                if integer
                else full
            )
    return pd.DataFrame(out, index=frame.index)


def _matrix(values: pd.Series) -> np.ndarray:
    from spark_em.io.vectors import arrow_matrix

    rows = [
        np.asarray(v.toArray() if hasattr(v, "toArray") else v, dtype=np.float64) for v in values
    ]
    column = pa.array([r.tolist() for r in rows], pa.list_(pa.float64()))
    return arrow_matrix(column, np.ones(len(rows), dtype=bool))


def recommender_predictions(model, frame: pd.DataFrame) -> pd.DataFrame:
    """Each (user, item) row's predicted rating, E[rating] under the user's posterior over the
    components. The posterior comes from that user's rated rows in ``frame`` alone (the rating
    column; a row without a rating is only asked about), with the parameters fixed: each
    user in ``frame`` is scored as a new user, whether or not the model was fitted on them
    (their training ratings are not kept in a logged model), so a user's rows belong in one
    call (one batch under ``spark_udf``). A user with no rated row gets the prior's
    prediction; an item the model does not know gets NaN."""
    from spark_em.io.triples import positions
    from spark_em.kernels import masked

    user, item, rating = model._columns
    missing = [c for c in (user, item) if c not in frame.columns]
    if missing:
        raise InputError(
            f"model_input has no column {', '.join(map(repr, missing))}; "
            f"it has {', '.join(map(str, frame.columns))}"
        )
    codes, users = pd.factorize(frame[user])
    cols = positions(model.items, frame[item].to_numpy())
    rated = np.zeros(len(frame), dtype=bool)
    if rating in frame.columns:
        given = pd.to_numeric(frame[rating], errors="coerce").to_numpy(dtype=np.float64)
        rated = np.isfinite(given)
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
        (given[rated] if rated.any() else np.zeros(0), (codes[rated], cols[rated])),
        shape=(len(users), len(model.items)),
    )
    mixture = masked.Mixture(model.mu, model.var, model.p)
    post = masked.posterior(X, mixture)[0]
    known = (cols >= 0) & (codes >= 0)
    prediction = np.full(len(frame), np.nan)
    prediction[known] = np.einsum("nk,kn->n", post[codes[known]], mixture.mu[:, cols[known]])
    return pd.DataFrame({model.getPredictionCol(): prediction}, index=frame.index)
