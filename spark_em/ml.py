"""spark.ml-style estimators: ``GaussianMixture``, ``MaskedGaussianMixture`` and
``WeightedLinearRegression``.

They take a DataFrame column of ``pyspark.ml`` vectors or numeric arrays, fit on the cached
blocks through the same engine as the jobs, and return models that ``transform`` DataFrames,
persist as JSON metadata plus ``.npy`` arrays (never pickle), and work inside a ``Pipeline``.

They work the same in a classic session and in a Spark Connect session: ``fit`` reads the
data on the backend the ``backend`` param names (``auto``: RDD blocks in a classic session,
the DataFrame backend under Connect), and ``transform`` is one ``mapInArrow`` on either.

Fitted models are saved to a directory on the driver's file system (metadata through Spark,
arrays with ``np.save``); a path with another scheme than ``file:`` is refused. Under Spark
Connect the metadata is written by the server and the arrays by this process, so the two must
share that file system (as with a ``local[...]`` server).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
from pyspark import keyword_only
from pyspark.ml import Estimator, Model
from pyspark.ml.linalg import DenseVector, VectorUDT
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.ml.param.shared import (HasFeaturesCol, HasMaxIter, HasPredictionCol,
                                     HasProbabilityCol, HasSeed, HasTol)
from pyspark.ml.util import (DefaultParamsReadable, DefaultParamsReader, DefaultParamsWritable,
                             DefaultParamsWriter, MLReadable, MLReader, MLWritable, MLWriter)
from pyspark.sql.types import DoubleType, IntegerType, StructField, StructType

from spark_em import frames, gaussian, masked
from spark_em import matrix_completion as mc
from spark_em import mixture as mx
from spark_em.errors import InputError
from spark_em.readers import read_dataframe

TRANSFORM_BLOCK_ROWS = 4096


# --- persistence: params as Spark ML metadata, arrays as .npy


def _local_dir(path: str) -> Path:
    if "://" in path and not path.startswith("file://"):
        raise InputError(f"{path}: models are saved to the driver's file system, not to a URL")
    return Path(path[len("file://"):] if path.startswith("file://") else path)


class _ConnectOverwrite:
    """``overwrite()`` without the JVM under Spark Connect: the path (on the driver's file
    system) is removed from Python; a classic session keeps Spark's own handling."""

    def _handleOverwrite(self, path: str) -> None:
        if not frames.is_connect(self.sparkSession):
            return super()._handleOverwrite(path)
        target = _local_dir(path)
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        elif target.exists() or target.is_symlink():
            target.unlink()


class _ParamsWriter(_ConnectOverwrite, DefaultParamsWriter):
    """The estimators' writer: Spark's, with an ``overwrite()`` that works under Connect."""


class _ParamsWritable(DefaultParamsWritable):
    def write(self) -> MLWriter:
        return _ParamsWriter(self)


class _ArrayModelWriter(_ConnectOverwrite, MLWriter):
    def __init__(self, instance):
        super().__init__()
        self.instance = instance

    def saveImpl(self, path: str) -> None:
        data = _local_dir(path) / "data"
        # The session, not its SparkContext: a Spark Connect session has none.
        DefaultParamsWriter.saveMetadata(self.instance, path, self.sparkSession,
                                         extraMetadata={"model": self.instance._extra()})
        data.mkdir(parents=True, exist_ok=True)
        for name, array in self.instance._arrays().items():
            np.save(data / f"{name}.npy", np.asarray(array), allow_pickle=False)


class _ArrayModelReader(MLReader):
    def __init__(self, cls):
        super().__init__()
        self.cls = cls

    def load(self, path: str):
        try:
            metadata = DefaultParamsReader.loadMetadata(path, self.sparkSession)
            metadata["model"]
        except Exception as exc:  # a missing, truncated or altered file: Spark, JSON or key errors
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise InputError(f"{path}: the model's metadata cannot be read ({first})") from None
        data = _local_dir(path) / "data"
        try:
            arrays = {f.stem: np.load(f, allow_pickle=False) for f in sorted(data.glob("*.npy"))}
        except ValueError as exc:
            raise InputError(f"{path}: a model array cannot be read ({exc})") from None
        model = self.cls._from_saved(arrays, metadata["model"])
        DefaultParamsReader.getAndSetParams(model, metadata)
        return model


class _ArrayModelPersistence(MLWritable, MLReadable):
    def write(self) -> MLWriter:
        return _ArrayModelWriter(self)

    @classmethod
    def read(cls) -> MLReader:
        return _ArrayModelReader(cls)


def _with_columns(dataset, input_col: str, fields: list[StructField], compute):
    """``dataset`` with ``fields`` appended, by one ``mapInArrow`` (so on a classic session
    and under Spark Connect alike). ``compute(X)`` gives, for a block of rows X (an n × d
    array), one value per field: an array of n numbers for a numeric field, an n × k array
    for a vector field. Rows whose input is null get nulls."""
    position = dataset.columns.index(input_col)
    names = [f.name for f in fields]
    kinds = [f.dataType for f in fields]
    step = TRANSFORM_BLOCK_ROWS

    def per_partition(batches):
        for batch in batches:
            for start in range(0, batch.num_rows, step):
                chunk = batch.slice(start, step)
                column = chunk.column(position)
                present = ~column.is_null().to_numpy(zero_copy_only=False)
                values = compute(_arrow_matrix(column, present)) if present.any() else None
                added = [_arrow_column(None if values is None else values[i], present, kind)
                         for i, kind in enumerate(kinds)]
                yield pa.RecordBatch.from_arrays(chunk.columns + added,
                                                 names=chunk.schema.names + names)

    return dataset.mapInArrow(per_partition, StructType(dataset.schema.fields + fields))


def _list_parts(lists, dtype) -> tuple[np.ndarray, np.ndarray]:
    """A list array's offsets and its flat values as ``dtype`` (null elements become NaN)."""
    import pyarrow.compute as pc

    flat = lists.values
    if not pa.types.is_floating(flat.type) or dtype != np.float64:
        flat = pc.cast(flat, pa.float64() if dtype == np.float64 else pa.int64())
    return (lists.offsets.to_numpy(zero_copy_only=False).astype(np.int64),
            flat.to_numpy(zero_copy_only=False).astype(dtype, copy=False))


def _arrow_matrix(column, present: np.ndarray) -> np.ndarray:
    """The non-null rows of an Arrow column of vectors (the struct Spark sends for a VectorUDT:
    type 1 dense, 0 sparse, size, indices, values) or of numeric arrays, as an n × d array."""
    rows = np.flatnonzero(present)
    if pa.types.is_struct(column.type):
        parts = dict(zip((f.name for f in column.type), column.flatten()))
        dense = parts["type"].to_numpy(zero_copy_only=False)[rows] == 1
        size = parts["size"].to_numpy(zero_copy_only=False)[rows]
        index_at, indices = _list_parts(parts["indices"], np.int64)
        value_at, values = _list_parts(parts["values"], np.float64)
        widths = np.where(dense, value_at[rows + 1] - value_at[rows], np.nan_to_num(size))
    else:
        dense = np.ones(len(rows), dtype=bool)
        value_at, values = _list_parts(column, np.float64)
        widths = value_at[rows + 1] - value_at[rows]
    widths = widths.astype(np.int64)
    if np.any(widths != widths[0]):
        raise InputError(f"the rows have different lengths ({widths.min()} and {widths.max()})")
    X = np.zeros((len(rows), int(widths[0])))
    X[dense] = values[value_at[rows[dense]][:, None] + np.arange(X.shape[1])]
    for i in np.flatnonzero(~dense):
        r = rows[i]
        X[i, indices[index_at[r]:index_at[r + 1]]] = values[value_at[r]:value_at[r + 1]]
    return X


_VECTOR_ARROW = [pa.field("type", pa.int8(), nullable=False), pa.field("size", pa.int32()),
                 pa.field("indices", pa.list_(pa.field("element", pa.int32(), nullable=False))),
                 pa.field("values", pa.list_(pa.field("element", pa.float64(), nullable=False)))]


def _arrow_column(values, present: np.ndarray, kind):
    """``values`` (one per present row) as an Arrow column with nulls at the absent rows; a
    vector column as dense vectors in the struct form Spark reads back as a VectorUDT."""
    n, absent = len(present), pa.array(~present)
    if isinstance(kind, VectorUDT):
        matrix = np.zeros((0, 0)) if values is None else np.asarray(values, dtype=np.float64)
        offsets = np.concatenate([[0], np.cumsum(np.where(present, matrix.shape[1], 0))])
        vectors = pa.ListArray.from_arrays(pa.array(offsets, pa.int32()),
                                           pa.array(matrix.ravel(), pa.float64()),
                                           type=_VECTOR_ARROW[3].type, mask=absent)
        return pa.StructArray.from_arrays(
            [pa.array(np.ones(n, dtype=np.int8)), pa.nulls(n, pa.int32()),
             pa.nulls(n, _VECTOR_ARROW[2].type), vectors], fields=_VECTOR_ARROW, mask=absent)
    dtype = np.int32 if isinstance(kind, IntegerType) else np.float64
    full = np.zeros(n, dtype=dtype)
    if values is not None:
        full[present] = values
    return pa.array(full, mask=~present)


# --- the backend param, and setters the estimators share (each class only has those of the
# params it declares)


BACKENDS = ("auto", *frames.BACKENDS)


def _to_backend(value) -> str:
    value = TypeConverters.toString(value)
    if value not in BACKENDS:
        raise TypeError(f"backend must be one of {', '.join(BACKENDS)}, not {value!r}")
    return value


class _HasBackend(Params):
    backend = Param(Params._dummy(), "backend",
                    "where fit keeps the data: auto (RDD blocks in a classic session, the "
                    "DataFrame backend under Spark Connect), rdd or dataframe", _to_backend)

    def __init__(self, *args):
        super().__init__(*args)
        self._setDefault(backend="auto")

    def getBackend(self) -> str:
        return self.getOrDefault(self.backend)

    def setBackend(self, value: str):
        return self._set(backend=value)

    def _backend_arg(self) -> str | None:
        """The ``backend=`` argument of the readers (None: chosen from the session)."""
        return None if self.getBackend() == "auto" else self.getBackend()


class _FitSetters:
    def setFeaturesCol(self, value: str):
        return self._set(featuresCol=value)

    def setMaxIter(self, value: int):
        return self._set(maxIter=value)

    def setTol(self, value: float):
        return self._set(tol=value)


class _MixtureSetters(_FitSetters):
    def setK(self, value: int):
        return self._set(k=value)

    def setSeed(self, value: int):
        return self._set(seed=value)


# --- Gaussian mixture on complete data


class _GaussianMixtureParams(HasFeaturesCol, HasPredictionCol, HasProbabilityCol, HasMaxIter,
                             HasTol, HasSeed):
    k = Param(Params._dummy(), "k", "number of components (> 0)", TypeConverters.toInt)
    covarianceType = Param(Params._dummy(), "covarianceType",
                           "covariance type: full, tied, diag or spherical", TypeConverters.toString)
    initMode = Param(Params._dummy(), "initMode", "initialisation: kmeans++, random or reference",
                     TypeConverters.toString)
    nInit = Param(Params._dummy(), "nInit", "restarts; the best log-likelihood is kept",
                  TypeConverters.toInt)
    regCovar = Param(Params._dummy(), "regCovar", "added to the covariance diagonals (>= 0)",
                     TypeConverters.toFloat)
    logLikelihoodCol = Param(Params._dummy(), "logLikelihoodCol",
                             "column for each row's log-likelihood", TypeConverters.toString)

    def __init__(self, *args):
        super().__init__(*args)
        self._setDefault(k=2, covarianceType="full", initMode="kmeans++", nInit=1,
                         regCovar=gaussian.REG_COVAR, maxIter=100, tol=1e-6, seed=0,
                         logLikelihoodCol="logLikelihood")

    def getK(self) -> int:
        return self.getOrDefault(self.k)

    def getCovarianceType(self) -> str:
        return self.getOrDefault(self.covarianceType)

    def getInitMode(self) -> str:
        return self.getOrDefault(self.initMode)

    def getNInit(self) -> int:
        return self.getOrDefault(self.nInit)

    def getRegCovar(self) -> float:
        return self.getOrDefault(self.regCovar)

    def getLogLikelihoodCol(self) -> str:
        return self.getOrDefault(self.logLikelihoodCol)


@dataclass
class GaussianMixtureSummary:
    """What a fit reports: log-likelihood per iteration, iterations, soft cluster sizes."""

    logLikelihoodHistory: list[float]
    numIter: int
    converged: bool
    clusterSizes: list[float]
    logLikelihood: float
    numRows: int = 0
    extra: dict = field(default_factory=dict)


class GaussianMixture(Estimator, _GaussianMixtureParams, _HasBackend, _MixtureSetters,
                      DefaultParamsReadable, _ParamsWritable):
    """EM for a Gaussian mixture on a DataFrame column (vectors or arrays of doubles).

    >>> gm = GaussianMixture(k=3, covarianceType="full", seed=1)
    >>> model = gm.fit(df)              # df has a "features" column
    >>> model.transform(df).select("prediction", "probability", "logLikelihood")
    """

    @keyword_only
    def __init__(self, *, k=2, covarianceType="full", tol=1e-6, maxIter=100, seed=0,
                 initMode="kmeans++", nInit=1, regCovar=gaussian.REG_COVAR,
                 featuresCol="features", predictionCol="prediction",
                 probabilityCol="probability", logLikelihoodCol="logLikelihood", backend="auto"):
        super().__init__()
        self._set(**self._input_kwargs)

    @keyword_only
    def setParams(self, *, k=2, covarianceType="full", tol=1e-6, maxIter=100, seed=0,
                  initMode="kmeans++", nInit=1, regCovar=gaussian.REG_COVAR,
                  featuresCol="features", predictionCol="prediction",
                  probabilityCol="probability", logLikelihoodCol="logLikelihood", backend="auto"):
        return self._set(**self._input_kwargs)

    def setCovarianceType(self, value: str):
        return self._set(covarianceType=value)

    def setInitMode(self, value: str):
        return self._set(initMode=value)

    def setNInit(self, value: int):
        return self._set(nInit=value)

    def setRegCovar(self, value: float):
        return self._set(regCovar=value)

    def setPredictionCol(self, value: str):
        return self._set(predictionCol=value)

    def setProbabilityCol(self, value: str):
        return self._set(probabilityCol=value)

    def setLogLikelihoodCol(self, value: str):
        return self._set(logLikelihoodCol=value)

    def _fit(self, dataset) -> "GaussianMixtureModel":
        blocks = read_dataframe(dataset, self.getFeaturesCol(), ratings=False,
                                backend=self._backend_arg())
        try:
            run = mx.fit(blocks, self.getK(), self.getSeed(),
                         covariance_type=gaussian.check_type(self.getCovarianceType()),
                         init=self.getInitMode(), tol=self.getTol(), max_iter=self.getMaxIter(),
                         reg_covar=self.getRegCovar(), n_init=self.getNInit())
        finally:
            blocks.unpersist()
        summary = GaussianMixtureSummary([h.objective for h in run.history], run.n_iter,
                                         run.converged, run.cluster_sizes, run.log_likelihood,
                                         run.n_rows)
        return self._copyValues(GaussianMixtureModel(run.mixture, summary))


class GaussianMixtureModel(Model, _GaussianMixtureParams, _ArrayModelPersistence):
    """A fitted mixture: ``weights``, ``means``, ``covariances``, ``summary``, ``bic``, ``aic``;
    ``transform`` adds the most probable component, the posterior probabilities and each
    row's log-likelihood."""

    def __init__(self, mixture: gaussian.GaussianMixture | None = None,
                 summary: GaussianMixtureSummary | None = None):
        super().__init__()
        self._mixture = mixture
        self._summary = summary

    @property
    def weights(self) -> np.ndarray:
        return self._mixture.weights

    @property
    def means(self) -> np.ndarray:
        return self._mixture.means

    @property
    def covariances(self) -> np.ndarray:
        return self._mixture.covariances

    @property
    def hasSummary(self) -> bool:
        return self._summary is not None

    @property
    def summary(self) -> GaussianMixtureSummary:
        if self._summary is None:
            raise RuntimeError("this model has no training summary")
        return self._summary

    @property
    def bic(self) -> float:
        """The course's BIC on the training data, LL − ½ p log n (higher is better)."""
        k, d = self.means.shape
        return gaussian.bic(self.summary.logLikelihood, k, d, self.summary.numRows,
                            self._mixture.covariance_type)

    @property
    def aic(self) -> float:
        """AIC on the same scale, LL − p (higher is better)."""
        k, d = self.means.shape
        return gaussian.aic(self.summary.logLikelihood, k, d, self._mixture.covariance_type)

    def _transform(self, dataset):
        prepared = gaussian.prepare(self._mixture)

        def compute(X):
            resp, row_ll = gaussian.posterior(X, prepared)
            return resp.argmax(axis=1), resp, row_ll

        fields = [StructField(self.getPredictionCol(), IntegerType()),
                  StructField(self.getProbabilityCol(), VectorUDT()),
                  StructField(self.getLogLikelihoodCol(), DoubleType())]
        return _with_columns(dataset, self.getFeaturesCol(), fields, compute)

    def _arrays(self) -> dict:
        return {"weights": self.weights, "means": self.means, "covariances": self.covariances}

    def _extra(self) -> dict:
        out = {"covarianceType": self._mixture.covariance_type}
        if self._summary is not None:
            s = self._summary
            out["summary"] = dict(logLikelihoodHistory=s.logLikelihoodHistory, numIter=s.numIter,
                                  converged=s.converged, clusterSizes=s.clusterSizes,
                                  logLikelihood=s.logLikelihood, numRows=s.numRows)
        return out

    @classmethod
    def _from_saved(cls, arrays: dict, extra: dict) -> "GaussianMixtureModel":
        try:
            kind = gaussian.check_type(extra["covarianceType"])
            mixture = mx.check_given(
                gaussian.GaussianMixture(arrays["weights"], arrays["means"], arrays["covariances"], kind),
                len(arrays["weights"]), arrays["means"].shape[1], kind)
        except (KeyError, ValueError, IndexError) as exc:
            raise InputError(f"the saved model is incomplete or inconsistent ({exc})") from None
        summary = GaussianMixtureSummary(**extra["summary"]) if "summary" in extra else None
        return cls(mixture, summary)


# --- the masked mixture (matrix completion)


class _MaskedParams(HasFeaturesCol, HasMaxIter, HasTol, HasSeed):
    k = Param(Params._dummy(), "k", "number of components (> 0)", TypeConverters.toInt)
    minVariance = Param(Params._dummy(), "minVariance", "variance floor (> 0)", TypeConverters.toFloat)
    outputCol = Param(Params._dummy(), "outputCol", "column for the completed row",
                      TypeConverters.toString)

    def __init__(self, *args):
        super().__init__(*args)
        self._setDefault(k=12, minVariance=masked.MIN_VARIANCE, maxIter=1000, tol=1e-6, seed=0,
                         outputCol="completed")

    def getK(self) -> int:
        return self.getOrDefault(self.k)

    def getMinVariance(self) -> float:
        return self.getOrDefault(self.minVariance)

    def getOutputCol(self) -> str:
        return self.getOrDefault(self.outputCol)


class MaskedGaussianMixture(Estimator, _MaskedParams, _HasBackend, _MixtureSetters,
                            DefaultParamsReadable, _ParamsWritable):
    """EM for the masked spherical mixture on rows of ratings (0 = missing), from the course's
    reference initialisation; ``transform`` adds the completed row."""

    @keyword_only
    def __init__(self, *, k=12, tol=1e-6, maxIter=1000, seed=0, minVariance=masked.MIN_VARIANCE,
                 featuresCol="features", outputCol="completed", backend="auto"):
        super().__init__()
        self._set(**self._input_kwargs)

    @keyword_only
    def setParams(self, *, k=12, tol=1e-6, maxIter=1000, seed=0, minVariance=masked.MIN_VARIANCE,
                  featuresCol="features", outputCol="completed", backend="auto"):
        return self._set(**self._input_kwargs)

    def setMinVariance(self, value: float):
        return self._set(minVariance=value)

    def setOutputCol(self, value: str):
        return self._set(outputCol=value)

    def _fit(self, dataset) -> "MaskedGaussianMixtureModel":
        blocks = read_dataframe(dataset, self.getFeaturesCol(), ratings=True,
                                backend=self._backend_arg())
        try:
            run = mc.fit(blocks, self.getK(), self.getSeed(), tol=self.getTol(),
                         max_iter=self.getMaxIter(), min_variance=self.getMinVariance())
        finally:
            blocks.unpersist()
        return self._copyValues(MaskedGaussianMixtureModel(
            run.mixture, {"logLikelihood": run.log_likelihood, "numIter": run.n_iter,
                          "converged": run.converged,
                          "logLikelihoodHistory": [h.objective for h in run.history]}))


class MaskedGaussianMixtureModel(Model, _MaskedParams, _ArrayModelPersistence):
    """A fitted masked mixture: ``mu``, ``var``, ``p``, ``summary``; ``transform`` adds the row
    with its missing entries filled by equation (6)."""

    def __init__(self, mixture: masked.Mixture | None = None, summary: dict | None = None):
        super().__init__()
        self._mixture = mixture
        self.summary = summary or {}

    @property
    def mu(self) -> np.ndarray:
        return self._mixture.mu

    @property
    def var(self) -> np.ndarray:
        return self._mixture.var

    @property
    def p(self) -> np.ndarray:
        return self._mixture.p

    def _transform(self, dataset):
        mixture = self._mixture
        fields = [StructField(self.getOutputCol(), VectorUDT())]
        return _with_columns(dataset, self.getFeaturesCol(), fields,
                             lambda X: [masked.complete(X, mixture)])

    def _arrays(self) -> dict:
        return {"mu": self.mu, "var": self.var, "p": self.p}

    def _extra(self) -> dict:
        return {"summary": self.summary}

    @classmethod
    def _from_saved(cls, arrays: dict, extra: dict) -> "MaskedGaussianMixtureModel":
        try:
            mu, var, p = arrays["mu"], arrays["var"], arrays["p"]
            problem = masked.mixture_problem(masked.Mixture(mu, var, p))
            if problem:
                raise ValueError(problem)
        except (KeyError, ValueError) as exc:
            raise InputError(f"the saved model is incomplete or inconsistent ({exc})") from None
        return cls(masked.Mixture(mu, var, p), extra.get("summary", {}))


# --- weighted least squares


class _WeightedLinearRegressionParams(HasFeaturesCol, HasPredictionCol, HasMaxIter, HasTol):
    labelCol = Param(Params._dummy(), "labelCol", "label column", TypeConverters.toString)
    weightCol = Param(Params._dummy(), "weightCol", "weight column (finite, >= 0)",
                      TypeConverters.toString)
    solver = Param(Params._dummy(), "solver", "newton, normal or gd", TypeConverters.toString)
    stepSize = Param(Params._dummy(), "stepSize",
                     "gd learning rate; 0 means automatic (1/L)", TypeConverters.toFloat)

    def __init__(self, *args):
        super().__init__(*args)
        self._setDefault(labelCol="label", weightCol="weight", solver="newton", stepSize=0.0,
                         maxIter=1000, tol=1e-5)

    def getLabelCol(self) -> str:
        return self.getOrDefault(self.labelCol)

    def getWeightCol(self) -> str:
        return self.getOrDefault(self.weightCol)

    def getSolver(self) -> str:
        return self.getOrDefault(self.solver)

    def getStepSize(self) -> float:
        return self.getOrDefault(self.stepSize)


class WeightedLinearRegression(Estimator, _WeightedLinearRegressionParams, _HasBackend,
                               _FitSetters, DefaultParamsReadable, _ParamsWritable):
    """Weighted least squares, f(W) = ½ Σ w (W·X − y)² with an intercept, on a vector features
    column; MLlib's parameter names."""

    @keyword_only
    def __init__(self, *, featuresCol="features", labelCol="label", weightCol="weight",
                 predictionCol="prediction", solver="newton", maxIter=1000, tol=1e-5, stepSize=0.0,
                 backend="auto"):
        super().__init__()
        self._set(**self._input_kwargs)

    @keyword_only
    def setParams(self, *, featuresCol="features", labelCol="label", weightCol="weight",
                  predictionCol="prediction", solver="newton", maxIter=1000, tol=1e-5,
                  stepSize=0.0, backend="auto"):
        return self._set(**self._input_kwargs)

    def setLabelCol(self, value: str):
        return self._set(labelCol=value)

    def setWeightCol(self, value: str):
        return self._set(weightCol=value)

    def setPredictionCol(self, value: str):
        return self._set(predictionCol=value)

    def setSolver(self, value: str):
        return self._set(solver=value)

    def setStepSize(self, value: float):
        return self._set(stepSize=value)

    def _fit(self, dataset) -> "WeightedLinearRegressionModel":
        from spark_em import regression

        data = regression.from_dataframe(dataset, self.getLabelCol(), self.getWeightCol(),
                                         [self.getFeaturesCol()], backend=self._backend_arg())
        try:
            step = self.getStepSize() if self.getStepSize() > 0 else "auto"
            result = regression.fit(data, self.getSolver(), step, self.getTol(), self.getMaxIter())
        finally:
            data.blocks.unpersist()
        summary = {"lossHistory": result.loss_history, "passes": result.passes,
                   "numIter": result.n_iter, "loss": result.loss,
                   "gradientNorm": result.gradient_norm, "converged": result.converged}
        return self._copyValues(WeightedLinearRegressionModel(
            result.coefficients, result.intercept, summary))


class WeightedLinearRegressionModel(Model, _WeightedLinearRegressionParams, _ArrayModelPersistence):
    """``coefficients`` (a DenseVector), ``intercept``, ``summary``; ``transform`` adds the
    prediction W·X."""

    def __init__(self, coefficients=None, intercept: float = 0.0, summary: dict | None = None):
        super().__init__()
        self._coefficients = None if coefficients is None else np.asarray(coefficients, np.float64)
        self._intercept = float(intercept)
        self.summary = summary or {}

    @property
    def coefficients(self) -> DenseVector:
        return DenseVector(self._coefficients)

    @property
    def intercept(self) -> float:
        return self._intercept

    def _transform(self, dataset):
        coefficients, intercept = self._coefficients, self._intercept
        fields = [StructField(self.getPredictionCol(), DoubleType())]
        return _with_columns(dataset, self.getFeaturesCol(), fields,
                             lambda X: [X @ coefficients + intercept])

    def _arrays(self) -> dict:
        return {"coefficients": self._coefficients, "intercept": np.array([self._intercept])}

    def _extra(self) -> dict:
        return {"summary": self.summary}

    @classmethod
    def _from_saved(cls, arrays: dict, extra: dict) -> "WeightedLinearRegressionModel":
        try:
            coefficients, intercept = arrays["coefficients"], arrays["intercept"]
            if coefficients.ndim != 1 or intercept.shape != (1,) or not (
                    np.all(np.isfinite(coefficients)) and np.isfinite(intercept[0])):
                raise ValueError("coefficients must be a finite vector and intercept one number")
        except (KeyError, ValueError) as exc:
            raise InputError(f"the saved model is incomplete or inconsistent ({exc})") from None
        return cls(coefficients, float(intercept[0]), extra.get("summary", {}))
