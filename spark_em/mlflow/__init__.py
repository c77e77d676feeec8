"""spark-em models in MLflow (the ``spark-em[mlflow]`` extra).

- ``log_model(model, name)``: the fitted model as an MLflow pyfunc, with a signature and an
  input example; ``mlflow.pyfunc.load_model(uri).predict(pandas_df)`` scores without Spark,
  and ``mlflow.pyfunc.spark_udf`` scores on Spark.
- ``load_model(uri)``: the spark-em model itself (``runs:/…``, ``models:/…``, any artifact
  URI), ready to ``transform`` DataFrames.
- ``autolog()``: from then on every fit logs its params, its objective after every iteration
  as a metric history, its final figures and the model (``autolog(disable=True)`` stops it).
  Nothing is logged without it.
"""

from __future__ import annotations

import logging
import tempfile
import time
import warnings
from contextlib import contextmanager, nullcontext
from pathlib import Path

import mlflow

from spark_em.errors import InputError
from spark_em.ml import tracking
from spark_em.mlflow import artifact
from spark_em.mlflow.pyfunc import predict

__all__ = ["autolog", "load_model", "log_model", "predict"]

ARTIFACT = "spark_em_model"
_settings = {"log_models": True, "silent": False}


def log_model(
    model,
    name: str = "model",
    input_example=None,
    registered_model_name=None,
    pip_requirements=None,
    **kwargs,
):
    """Log ``model`` to the active run (one is started if none is) as a pyfunc; the
    ``ModelInfo`` MLflow returns. ``model`` is a fitted spark-em model, or a ``PipelineModel``
    of a ``VectorAssembler`` and a spark-em model: the pyfunc then scores a pandas frame of
    the assembler's input columns, as the pipeline's ``transform`` does. ``input_example``
    defaults to a few rows built from the model's own parameters; the signature is inferred
    from it and its predictions. ``pip_requirements`` defaults to spark-em and its scoring
    dependencies at the versions installed here (spark-em must be installable where the
    model is served).

    Parameters
    ----------
    model : FittedModel or pyspark.ml.PipelineModel
        A fitted spark-em model, or a ``PipelineModel`` of one ``VectorAssembler`` and a
        fitted spark-em model (any other stage is refused: it would need Spark to score).
    name : str, default "model"
        The model's name in the run (its artifact path).
    input_example : pandas.DataFrame, optional
        Rows the model scores; by default a few built from the model's parameters.
    registered_model_name : str, optional
        Also register the model under this name in the model registry.
    pip_requirements : list of str, optional
        What the serving environment installs; by default spark-em and its scoring
        dependencies at the versions installed here.
    **kwargs
        Passed on to ``mlflow.pyfunc.log_model`` (``metadata``, ``extra_pip_requirements``,
        ...).

    Returns
    -------
    mlflow.models.model.ModelInfo
        What MLflow returns: ``model_uri`` loads the model back.

    Examples
    --------
    >>> import mlflow
    >>> import pandas as pd
    >>> import spark_em.mlflow
    >>> from spark_em.ml import GaussianMixture
    >>> model = GaussianMixture(k=3).fit(df)
    >>> with mlflow.start_run():
    ...     info = spark_em.mlflow.log_model(model, "model")
    >>> scorer = mlflow.pyfunc.load_model(info.model_uri)  # no Spark needed to score
    >>> scorer.predict(pd.DataFrame({"features": [[0.0, 4.0], [6.0, 6.0]]}))

    A pipeline of an assembler and a model scores frames of the assembler's inputs:

    >>> from pyspark.ml import Pipeline
    >>> from pyspark.ml.feature import VectorAssembler
    >>> import numpy as np
    >>> centres = np.repeat([[4.0, 0.0], [6.0, 6.0], [0.0, 4.0]], 100, axis=0)
    >>> points = centres + np.random.default_rng(0).normal(size=centres.shape)
    >>> table = spark.createDataFrame(points.tolist(), ["x", "y"])
    >>> assembler = VectorAssembler(inputCols=["x", "y"], outputCol="features")
    >>> pipeline = Pipeline(stages=[assembler, GaussianMixture(k=3)]).fit(table)
    >>> with mlflow.start_run():
    ...     info = spark_em.mlflow.log_model(pipeline, "pipeline")
    >>> mlflow.pyfunc.load_model(info.model_uri).predict(pd.DataFrame({"x": [0.0], "y": [4.0]}))
    """
    from mlflow.models import infer_signature

    model = artifact.scoring_model(model)
    example = model._input_example() if input_example is None else input_example
    with warnings.catch_warnings():  # the integer prediction column: never missing here
        warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer")
        signature = infer_signature(example, predict(model, example))
    with tempfile.TemporaryDirectory() as tmp:
        artifact.write(model, Path(tmp) / ARTIFACT)
        return mlflow.pyfunc.log_model(
            name=name,
            python_model=str(Path(__file__).with_name("model_code.py")),
            artifacts={"model": str(Path(tmp) / ARTIFACT)},
            signature=signature,
            input_example=example,
            registered_model_name=registered_model_name,
            pip_requirements=pip_requirements or _requirements(),
            **kwargs,
        )


def load_model(model_uri: str):
    """The spark-em model logged at ``model_uri`` (a recommender comes back with its
    parameters and item list; recommendations for its training users need a Spark save).

    Parameters
    ----------
    model_uri : str
        Where ``log_model`` logged it: ``runs:/<run id>/<name>``, ``models:/<name>/<version>``
        or any artifact URI.

    Returns
    -------
    FittedModel
        The model, of the class it was logged as, with its params and summary.

    Examples
    --------
    >>> import spark_em.mlflow
    >>> model = spark_em.mlflow.load_model(info.model_uri)  # info: what log_model returned
    >>> model.transform(df).select("prediction").show(3)
    """
    local = Path(mlflow.artifacts.download_artifacts(artifact_uri=model_uri))
    found = list(local.rglob(artifact.MODEL_FILE))
    if len(found) != 1:
        raise InputError(f"{model_uri}: not a model logged by spark_em.mlflow.log_model")
    return artifact.read(found[0].parent)


def autolog(log_models: bool = True, disable: bool = False, silent: bool = False) -> None:
    """Log every spark-em fit from now on, as ``mlflow.pyspark.ml.autolog`` does for MLlib's.

    Each fit made directly (``fit(df)``, or as a ``Pipeline`` stage) logs its params, the
    objective after every iteration as a metric history, the summary's final figures and,
    with ``log_models``, the model as a pyfunc, into the active run (a nested run when that
    run holds a fit already), or into a run of its own that ends with the fit. Fits made
    under a param map (each candidate of a ``CrossValidator`` or ``TrainValidationSplit``)
    are not logged one by one: as in MLflow's pyspark.ml autologging, the tuning is the
    tuner's run (``mlflow.pyspark.ml.autolog()`` logs it).

    Parameters
    ----------
    log_models : bool, default True
        Log the fitted model with each fit.
    disable : bool, default False
        Stop logging fits.
    silent : bool, default False
        Say nothing: no MLflow event logs or warnings while a fit is logged, and no warning
        when logging it fails.

    Examples
    --------
    >>> import spark_em.mlflow
    >>> from spark_em.ml import GaussianMixture
    >>> spark_em.mlflow.autolog()
    >>> model = GaussianMixture(k=3).fit(df)  # logged in a run of its own
    >>> spark_em.mlflow.autolog(disable=True)
    """
    _settings.update(log_models=bool(log_models), silent=bool(silent))
    if disable:
        tracking.forget(_log_fit)
    else:
        tracking.listen(_log_fit)


def _requirements() -> list[str]:
    from importlib.metadata import PackageNotFoundError, version

    wanted = ["spark-em", "numpy", "scipy", "pandas", "pyarrow", "pyspark", "mlflow"]
    out = []
    for package in wanted:
        try:
            out.append(f"{package}=={version(package)}")
        except PackageNotFoundError:
            out.append(package)
    return out


def _params_of(estimator) -> dict:
    out = {}
    for param, value in estimator.extractParamMap().items():
        text = str(value)
        if len(text) <= 500:
            out[param.name] = text
    return out


def _figures(model) -> tuple[str, list[float], dict[str, float]]:
    """The name and values of the objective's history, and the summary's final figures."""
    if not model.hasSummary:
        return "", [], {}
    summary = model.summary
    history = [float(v) for v in summary.objectiveHistory]
    return f"{summary.objective}History", history, summary.metrics()


@contextmanager
def _quiet(silent: bool):
    """MLflow's event logs and warnings muted while a fit is logged, when ``silent``."""
    if not silent:
        yield
        return
    logger = logging.getLogger("mlflow")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def _log_fit(estimator, model) -> None:
    silent = _settings["silent"]
    try:
        with _quiet(silent):
            _log_run(estimator, model)
    except Exception as exc:
        if not silent:
            warnings.warn(f"spark-em: MLflow autologging failed ({exc})", stacklevel=3)


def _log_run(estimator, model) -> None:
    active = mlflow.active_run()
    tag = "spark_em.estimator"
    if active is None:
        context = mlflow.start_run()
    elif tag in mlflow.get_run(active.info.run_id).data.tags:
        context = mlflow.start_run(nested=True)  # the run holds a fit already
    else:
        context = nullcontext(active)
    with context as run:
        from mlflow.entities import Metric

        kind = type(estimator)
        mlflow.set_tags(
            {
                tag: kind.__name__,
                "estimator_name": kind.__name__,
                "estimator_class": f"{kind.__module__}.{kind.__name__}",
            }
        )
        mlflow.log_params(_params_of(estimator))
        history_name, history, final = _figures(model)
        if history:
            now = int(1000 * time.time())
            mlflow.MlflowClient().log_batch(
                run.info.run_id,
                metrics=[Metric(history_name, v, now, step) for step, v in enumerate(history)],
            )
        mlflow.log_metrics(final)
        if _settings["log_models"]:
            log_model(model, "model")
