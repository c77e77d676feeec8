"""A fitted model as files that need no Spark to read: ``model.json`` (class, params as Spark
ML's metadata spells them, the model's own fields) and ``arrays.npz`` (read back without
pickle). What an MLflow run keeps, and what its pyfunc scores with on pandas."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import numpy as np

from spark_em.errors import InputError

MODEL_FILE, ARRAYS_FILE = "model.json", "arrays.npz"
MODEL_CLASSES = (
    "GaussianMixtureModel",
    "KMeansModel",
    "MaskedGaussianMixtureModel",
    "MixtureRecommenderModel",
    "WeightedLinearRegressionModel",
)


def check_model(model) -> None:
    if type(model).__name__ not in MODEL_CLASSES or not type(model).__module__.startswith(
        "spark_em."
    ):
        raise InputError(
            f"model: a spark-em model is needed ({', '.join(MODEL_CLASSES)}), "
            f"not {type(model).__name__}"
        )


def write(model, directory: Path) -> None:
    import pyspark

    check_model(model)
    directory.mkdir(parents=True, exist_ok=True)
    metadata = {
        "class": f"{type(model).__module__}.{type(model).__name__}",
        "uid": model.uid,
        "sparkVersion": pyspark.__version__,
        "paramMap": {p.name: v for p, v in model._paramMap.items()},
        "defaultParamMap": {p.name: v for p, v in model._defaultParamMap.items()},
        "model": model._extra(),
    }
    (directory / MODEL_FILE).write_text(json.dumps(metadata))
    np.savez(directory / ARRAYS_FILE, **{k: np.asarray(v) for k, v in model._arrays().items()})


def read(directory: Path):
    """The model ``write`` left in ``directory`` (without the recommender's training
    ratings, which stay with a Spark save)."""
    from pyspark.ml.util import DefaultParamsReader

    try:
        metadata = json.loads((directory / MODEL_FILE).read_text())
        module, _, name = metadata["class"].rpartition(".")
        if name not in MODEL_CLASSES or not module.startswith("spark_em."):
            raise ValueError(f"not a spark-em model class: {metadata['class']}")
        cls = getattr(importlib.import_module(module), name)
        with np.load(directory / ARRAYS_FILE, allow_pickle=False) as saved:
            arrays = {k: saved[k] for k in saved.files}
    except (OSError, ValueError, KeyError, AttributeError, ImportError) as exc:
        raise InputError(f"{directory}: not a logged spark-em model ({exc})") from None
    model = cls._from_saved(arrays, metadata["model"])
    model._resetUid(metadata["uid"])
    DefaultParamsReader.getAndSetParams(model, metadata)
    return model
