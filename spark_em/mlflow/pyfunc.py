"""The MLflow pyfunc of a spark-em model: ``predict`` on a pandas DataFrame, with numpy only
(no Spark), through the same per-block ``compute`` the model's ``transform`` runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

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
        raise InputError(f"model_input has no column {column!r} (the model's featuresCol); "
                         f"it has {', '.join(map(str, frame.columns))}")
    values = frame[column]
    present = values.notna().to_numpy()
    fields, compute = model._outputs()
    out = {}
    computed = compute(_matrix(values[present])) if present.any() else None
    for i, field in enumerate(fields):
        result = None if computed is None else np.asarray(computed[i])
        if result is not None and result.ndim == 2:  # a vector per row
            column_values = [None] * len(frame)
            for row, vector in zip(np.flatnonzero(present), result):
                column_values[row] = vector.tolist()
            out[field.name] = column_values
        else:
            full = np.full(len(frame), np.nan)
            if result is not None:
                full[present] = result
            integer = field.dataType.typeName() == "integer"
            out[field.name] = (full.astype(np.int64) if present.all() else
                               pd.Series(full).astype("Int64").array) if integer else full
    return pd.DataFrame(out, index=frame.index)


def _matrix(values: pd.Series) -> np.ndarray:
    from spark_em.io.vectors import arrow_matrix

    rows = [np.asarray(v.toArray() if hasattr(v, "toArray") else v, dtype=np.float64)
            for v in values]
    column = pa.array([r.tolist() for r in rows], pa.list_(pa.float64()))
    return arrow_matrix(column, np.ones(len(rows), dtype=bool))


def recommender_predictions(model, frame: pd.DataFrame) -> pd.DataFrame:
    """Each (user, item) row's predicted rating, E[rating] under the user's posterior over the
    components, which comes from that user's rated rows in ``frame`` (the rating column;
    rows without a rating are only asked about), with the parameters fixed: the users are
    scored as ``withNewUsers`` would. An item the model does not know gets NaN."""
    from spark_em.io.triples import positions
    from spark_em.kernels import masked

    user, item, rating = model._columns
    missing = [c for c in (user, item) if c not in frame.columns]
    if missing:
        raise InputError(f"model_input has no column {', '.join(map(repr, missing))}; "
                         f"it has {', '.join(map(str, frame.columns))}")
    codes, users = pd.factorize(frame[user])
    cols = positions(model.items, frame[item].to_numpy())
    X = np.zeros((len(users), len(model.items)))
    if rating in frame.columns:
        given = pd.to_numeric(frame[rating], errors="coerce").to_numpy(dtype=np.float64)
        rated = (cols >= 0) & (codes >= 0) & np.isfinite(given) & (given != 0)
        X[codes[rated], cols[rated]] = given[rated]
    mixture = masked.Mixture(model.mu, model.var, model.p)
    post = masked.posterior(X, mixture)[0]
    known = (cols >= 0) & (codes >= 0)
    prediction = np.full(len(frame), np.nan)
    prediction[known] = np.einsum("nk,kn->n", post[codes[known]], mixture.mu[:, cols[known]])
    return pd.DataFrame({model.getPredictionCol(): prediction}, index=frame.index)
