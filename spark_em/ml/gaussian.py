"""The spark.ml-style Gaussian mixture on complete data: ``GaussianMixture`` and its model."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from pyspark import keyword_only
from pyspark.ml import Estimator, Model
from pyspark.ml.linalg import VectorUDT
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.ml.param.shared import HasFeaturesCol, HasPredictionCol, HasProbabilityCol, HasSeed
from pyspark.sql.types import DoubleType, IntegerType, StructField

from spark_em.errors import InputError
from spark_em.io.matrix import read_dataframe
from spark_em.kernels import gaussian, missing
from spark_em.ml.columns import with_columns
from spark_em.ml.params import (HasBackend, HasIterationParams, MixtureSetters, gt, gt_eq,
                                in_array)
from spark_em.ml.persistence import ArrayModelPersistence, DefaultParamsReadable, ParamsWritable
from spark_em.models import gaussian as gaussian_model
from spark_em.models.gaussian import INIT_MODES

MISSING_VALUES = ("none", "nan", "zero")


class _GaussianMixtureParams(HasFeaturesCol, HasPredictionCol, HasProbabilityCol, HasIterationParams,
                             HasSeed):
    k = Param(Params._dummy(), "k", "number of components (> 0)",
              gt("k", 0, TypeConverters.toInt))
    covarianceType = Param(Params._dummy(), "covarianceType",
                           "covariance type: full, tied, diag or spherical",
                           in_array("covarianceType", gaussian.COVARIANCE_TYPES))
    initMode = Param(Params._dummy(), "initMode", "initialisation: kmeans++, random or reference",
                     in_array("initMode", INIT_MODES))
    nInit = Param(Params._dummy(), "nInit", "restarts (>= 1); the best log-likelihood is kept",
                  gt_eq("nInit", 1, TypeConverters.toInt))
    regCovar = Param(Params._dummy(), "regCovar", "added to the covariance diagonals (>= 0)",
                     gt_eq("regCovar", 0))
    logLikelihoodCol = Param(Params._dummy(), "logLikelihoodCol",
                             "column for each row's log-likelihood", TypeConverters.toString)
    missingValue = Param(Params._dummy(), "missingValue",
                         "what marks a missing value: none (every value must be a number), "
                         "nan (NaN, or a null array element) or zero (0)",
                         in_array("missingValue", MISSING_VALUES))
    imputedCol = Param(Params._dummy(), "imputedCol",
                       "column for the rows with their missing values imputed (when "
                       "missingValue is nan or zero)", TypeConverters.toString)

    def __init__(self, *args):
        super().__init__(*args)
        self._setDefault(k=2, covarianceType="full", initMode="kmeans++", nInit=1,
                         regCovar=gaussian.REG_COVAR, maxIter=100, tol=1e-6, seed=0,
                         logLikelihoodCol="logLikelihood", missingValue="none",
                         imputedCol="imputed")

    def getMissingValue(self) -> str:
        return self.getOrDefault(self.missingValue)

    def getImputedCol(self) -> str:
        return self.getOrDefault(self.imputedCol)

    def _missing_arg(self) -> str | None:
        """The readers' ``missing=`` argument."""
        return None if self.getMissingValue() == "none" else self.getMissingValue()

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


class GaussianMixture(Estimator, _GaussianMixtureParams, HasBackend, MixtureSetters,
                      DefaultParamsReadable, ParamsWritable):
    """EM for a Gaussian mixture on a DataFrame column (vectors or arrays of doubles).

    Defaults follow ``pyspark.ml.clustering.GaussianMixture`` where it has the param (k=2,
    maxIter=100) and scikit-learn's ``GaussianMixture`` otherwise (k-means++ start, tol 1e-6
    relative, reg_covar 1e-6), not the library's ``models.gaussian.fit`` (the course's
    reference start, up to 1000 iterations): set ``initMode="reference"``, ``maxIter=1000``
    for the course's fit.

    With ``missingValue="nan"`` (or ``"zero"``) rows may miss values: the fit is exact EM for
    incomplete data, and ``transform`` also adds ``imputedCol``, each row with its missing
    values replaced by their conditional expectation under the model.

    >>> gm = GaussianMixture(k=3, covarianceType="full", seed=1)
    >>> model = gm.fit(df)              # df has a "features" column
    >>> model.transform(df).select("prediction", "probability", "logLikelihood")
    """

    @keyword_only
    def __init__(self, *, k=2, covarianceType="full", tol=1e-6, maxIter=100, seed=0,
                 initMode="kmeans++", nInit=1, regCovar=gaussian.REG_COVAR,
                 featuresCol="features", predictionCol="prediction",
                 probabilityCol="probability", logLikelihoodCol="logLikelihood", backend="auto",
                 missingValue="none", imputedCol="imputed"):
        super().__init__()
        self._set(**self._input_kwargs)

    @keyword_only
    def setParams(self, *, k=2, covarianceType="full", tol=1e-6, maxIter=100, seed=0,
                  initMode="kmeans++", nInit=1, regCovar=gaussian.REG_COVAR,
                  featuresCol="features", predictionCol="prediction",
                  probabilityCol="probability", logLikelihoodCol="logLikelihood", backend="auto",
                  missingValue="none", imputedCol="imputed"):
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

    def setMissingValue(self, value: str):
        return self._set(missingValue=value)

    def setImputedCol(self, value: str):
        return self._set(imputedCol=value)

    def _fit(self, dataset) -> "GaussianMixtureModel":
        blocks = read_dataframe(dataset, self.getFeaturesCol(), ratings=False,
                                backend=self._backend_arg(), missing=self._missing_arg())
        try:
            run = gaussian_model.fit(blocks, self.getK(), self.getSeed(),
                                     covariance_type=self.getCovarianceType(),
                                     init=self.getInitMode(), tol=self.getTol(),
                                     max_iter=self.getMaxIter(), reg_covar=self.getRegCovar(),
                                     n_init=self.getNInit())
        finally:
            blocks.unpersist()
        summary = GaussianMixtureSummary([h.objective for h in run.history], run.n_iter,
                                         run.converged, run.cluster_sizes, run.log_likelihood,
                                         run.n_rows)
        return self._copyValues(GaussianMixtureModel(run.mixture, summary))


class GaussianMixtureModel(Model, _GaussianMixtureParams, ArrayModelPersistence):
    """A fitted mixture: ``weights``, ``means``, ``covariances``, ``summary``, ``bic``, ``aic``;
    ``transform`` adds the most probable component, the posterior probabilities and each
    row's log-likelihood."""

    def __init__(self, mixture: gaussian.Mixture | None = None,
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
        marker = self.getMissingValue()
        d = self.means.shape[1]

        def compute(X):
            if X.shape[1] != d:
                raise InputError(f"the features have {X.shape[1]} values a row; the model "
                                 f"was fitted on {d}")
            if marker == "zero":
                X = np.where(X == 0, np.nan, X)
            elif marker == "none" and np.isnan(X).any():
                raise InputError("a row holds NaN: fit with missingValue='nan' to score rows "
                                 "with missing values")
            resp, row_ll, imputed = missing.posterior(X, prepared)
            columns = (resp.argmax(axis=1), resp, row_ll)
            return columns if marker == "none" else (*columns, imputed)

        fields = [StructField(self.getPredictionCol(), IntegerType()),
                  StructField(self.getProbabilityCol(), VectorUDT()),
                  StructField(self.getLogLikelihoodCol(), DoubleType())]
        if marker != "none":
            fields.append(StructField(self.getImputedCol(), VectorUDT()))
        return with_columns(dataset, self.getFeaturesCol(), fields, compute)

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
            mixture = gaussian_model.check_given(
                gaussian.Mixture(arrays["weights"], arrays["means"], arrays["covariances"], kind),
                len(arrays["weights"]), arrays["means"].shape[1], kind)
        except (KeyError, ValueError, IndexError) as exc:
            raise InputError(f"the saved model is incomplete or inconsistent ({exc})") from None
        summary = GaussianMixtureSummary(**extra["summary"]) if "summary" in extra else None
        return cls(mixture, summary)
