"""The MLflow pyfunc of a spark-em model: ``predict`` on a pandas DataFrame, with numpy only
(no Spark), through the model's own ``_score_pandas`` (for most models the same per-block
``compute`` its ``transform`` runs)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

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
    """``model``'s outputs for the rows of ``frame``: a DataFrame with the model's features
    column (lists or arrays of numbers; a null row gives null outputs), or for the
    recommender (user, item[, rating]) rows, each user scored from their rated rows.

    Parameters
    ----------
    model : FittedModel
        A fitted spark-em model.
    frame : pandas.DataFrame
        The rows to score.

    Returns
    -------
    pandas.DataFrame
        One column per output of the model, on ``frame``'s index.

    Examples
    --------
    >>> predict(model, pd.DataFrame({"features": [[0.0, 1.0], [4.0, 4.0]]}))
    """
    if not isinstance(frame, pd.DataFrame):
        raise InputError(f"model_input: a pandas DataFrame is needed, not {type(frame).__name__}")
    return artifact.check_model(model)._score_pandas(frame)
