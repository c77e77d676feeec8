"""A fitted model as files that need no Spark to read: ``model.json`` (class, params as Spark
ML's metadata spells them, the model's own fields and summary) and ``arrays.npz`` (read back
without pickle). What an MLflow run keeps, and what its pyfunc scores with on pandas.

Any ``FittedModel`` is written through its protocol (``_metadata``, ``_arrays``) and read back
by the class the registry holds under the recorded name (``FittedModel.named``)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

import spark_em.ml  # noqa: F401  (registers every model class with FittedModel)
from spark_em.errors import InputError
from spark_em.ml.fitted import FittedModel
from spark_em.ml.persistence import restored

MODEL_FILE, ARRAYS_FILE = "model.json", "arrays.npz"


def check_model(model) -> FittedModel:
    """``model`` if it is a fitted spark-em model."""
    if not isinstance(model, FittedModel):
        raise InputError(f"model: a fitted spark-em model is needed, not {type(model).__name__}")
    return model


def scoring_model(model) -> FittedModel:
    """What the pyfunc of ``model`` scores with: a fitted spark-em model itself, or the last
    stage of a ``PipelineModel`` whose other stage is one ``VectorAssembler`` (a copy that
    reads the assembler's input columns from a pandas frame). Any other stage would need
    Spark to score, so it is refused."""
    from pyspark.ml import PipelineModel
    from pyspark.ml.feature import VectorAssembler

    if not isinstance(model, PipelineModel):
        return check_model(model)
    stages = list(model.stages)
    if not stages or not isinstance(stages[-1], FittedModel):
        raise InputError(
            "model: a PipelineModel is logged when its last stage is a fitted spark-em model"
        )
    *before, last = stages
    if len(before) > 1 or any(not isinstance(s, VectorAssembler) for s in before):
        names = ", ".join(type(s).__name__ for s in before)
        raise InputError(
            "model: a PipelineModel is logged when it is a VectorAssembler and a spark-em "
            f"model (the pyfunc scores pandas frames without Spark); this one has {names} "
            "before it: log the last stage alone, on the features column"
        )
    if not before:
        return last
    assembler, features = before[0], last.getOrDefault("featuresCol")
    if assembler.getOutputCol() != features:
        raise InputError(
            f"model: the VectorAssembler writes {assembler.getOutputCol()!r} but the model "
            f"reads {features!r}"
        )
    columns = list(assembler.getInputCols())
    if last._input_columns is not None and last._input_columns != columns:
        raise InputError(
            f"model: the VectorAssembler's inputs ({', '.join(columns)}) hold vectors, not "
            "numbers: log the last stage alone, on the features column"
        )
    scored = last.copy()
    scored._input_columns = columns
    return scored


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
        "model": model._metadata(),
    }
    (directory / MODEL_FILE).write_text(json.dumps(metadata))
    np.savez(directory / ARRAYS_FILE, **{k: np.asarray(v) for k, v in model._arrays().items()})


def read(directory: Path) -> FittedModel:
    """The model ``write`` left in ``directory`` (without the recommender's training
    ratings, which stay with a Spark save)."""
    try:
        metadata = json.loads((directory / MODEL_FILE).read_text())
        cls = FittedModel.named(metadata["class"])
        with np.load(directory / ARRAYS_FILE, allow_pickle=False) as saved:
            arrays = {k: saved[k] for k in saved.files}
    except (OSError, ValueError, KeyError) as exc:
        raise InputError(f"{directory}: not a logged spark-em model ({exc})") from None
    return restored(cls, arrays, metadata, str(directory))
