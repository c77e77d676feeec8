"""The spark.ml-style masked mixture (matrix completion): ``MaskedGaussianMixture`` and its
model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from pyspark import keyword_only
from pyspark.ml import Estimator
from pyspark.ml.linalg import VectorUDT
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.ml.param.shared import HasFeaturesCol, HasSeed
from pyspark.sql.types import StructField

from spark_em.engine import ops
from spark_em.errors import InputError
from spark_em.io.matrix import read_dataframe
from spark_em.kernels import masked
from spark_em.ml.columns import check_rows
from spark_em.ml.fitted import FittedModel
from spark_em.ml.params import HasBackend, HasIterationParams, MixtureSetters, gt
from spark_em.ml.persistence import DefaultParamsReadable, ParamsWritable
from spark_em.ml.summary import TrainingSummary, warn_unconverged
from spark_em.ml.tracking import Tracked
from spark_em.models import masked as masked_model


class _MaskedParams(HasFeaturesCol, HasIterationParams, HasSeed):
    k = Param(Params._dummy(), "k", "number of components (> 0)", gt("k", 0, TypeConverters.toInt))
    minVariance = Param(
        Params._dummy(), "minVariance", "variance floor (> 0)", gt("minVariance", 0)
    )
    outputCol = Param(
        Params._dummy(), "outputCol", "column for the completed row", TypeConverters.toString
    )

    def __init__(self, *args):
        super().__init__(*args)
        self._setDefault(
            k=12,
            minVariance=masked.MIN_VARIANCE,
            maxIter=1000,
            tol=1e-6,
            seed=0,
            outputCol="completed",
        )

    def getK(self) -> int:
        return self.getOrDefault(self.k)

    def getMinVariance(self) -> float:
        return self.getOrDefault(self.minVariance)

    def getOutputCol(self) -> str:
        return self.getOrDefault(self.outputCol)


class MaskedGaussianMixture(
    Tracked,
    Estimator,
    _MaskedParams,
    HasBackend,
    MixtureSetters,
    DefaultParamsReadable,
    ParamsWritable,
):
    """EM for the masked spherical mixture on rows of ratings (0 = missing), from the course's
    reference initialisation; ``transform`` adds the completed row.

    Defaults are the library's (``models.masked.fit``: tol 1e-6 relative, up to 1000
    iterations, variance floor 0.25), with K = 12, the course's choice."""

    @keyword_only
    def __init__(
        self,
        *,
        k=12,
        tol=1e-6,
        maxIter=1000,
        seed=0,
        minVariance=masked.MIN_VARIANCE,
        featuresCol="features",
        outputCol="completed",
        backend="auto",
    ):
        super().__init__()
        self._set(**self._input_kwargs)

    @keyword_only
    def setParams(
        self,
        *,
        k=12,
        tol=1e-6,
        maxIter=1000,
        seed=0,
        minVariance=masked.MIN_VARIANCE,
        featuresCol="features",
        outputCol="completed",
        backend="auto",
    ):
        return self._set(**self._input_kwargs)

    def setMinVariance(self, value: float):
        return self._set(minVariance=value)

    def setOutputCol(self, value: str):
        return self._set(outputCol=value)

    def _fit(self, dataset) -> MaskedGaussianMixtureModel:
        blocks = read_dataframe(
            dataset, self.getFeaturesCol(), ratings=True, backend=self._backend_arg()
        )
        try:
            run = masked_model.fit(
                blocks,
                self.getK(),
                self.getSeed(),
                tol=self.getTol(),
                max_iter=self.getMaxIter(),
                min_variance=self.getMinVariance(),
            )
        finally:
            ops.release(blocks)
        summary = MaskedGaussianMixtureSummary(
            logLikelihood=run.log_likelihood,
            numIter=run.n_iter,
            converged=run.converged,
            logLikelihoodHistory=[h.objective for h in run.history],
        )
        warn_unconverged(self, summary)
        model = self._copyValues(MaskedGaussianMixtureModel(run.mixture, summary))
        model._remember_inputs(dataset)
        return model


@dataclass(kw_only=True, repr=False)
class MaskedGaussianMixtureSummary(TrainingSummary):
    """A fit's report: the log-likelihood after every iteration, the last one, iterations and
    convergence."""

    objective: ClassVar[str] = "logLikelihood"

    logLikelihood: float
    logLikelihoodHistory: list[float]


class MaskedGaussianMixtureModel(FittedModel, _MaskedParams):
    """A fitted masked mixture: ``weights``, ``means``, ``variances``, ``summary``; ``transform``
    adds the row with its missing entries filled by equation (6)."""

    summary_class = MaskedGaussianMixtureSummary
    key_params = ("k",)

    def __init__(
        self,
        mixture: masked.SphericalMixture | None = None,
        summary: MaskedGaussianMixtureSummary | None = None,
    ):
        super().__init__(summary)
        self._mixture = mixture

    @property
    def weights(self) -> np.ndarray:
        """Each component's weight p_j (K)."""
        return self._mixture.weights

    @property
    def means(self) -> np.ndarray:
        """Each component's means μ_j (K × d, one per column)."""
        return self._mixture.means

    @property
    def variances(self) -> np.ndarray:
        """Each component's variance σ_j² (K), shared by its columns."""
        return self._mixture.variances

    def _outputs(self):
        mixture = self._mixture
        d = mixture.means.shape[1]

        def compute(X):
            return [masked.complete(check_rows(X, d), mixture)]

        return [StructField(self.getOutputCol(), VectorUDT())], compute

    def _example_rows(self) -> np.ndarray:
        return self.means

    def _arrays(self) -> dict:
        return self._mixture._asdict()

    @classmethod
    def _from_saved(cls, arrays: dict, extra: dict) -> MaskedGaussianMixtureModel:
        try:
            mixture = masked.SphericalMixture(
                **{name: arrays[name] for name in masked.SphericalMixture._fields}
            )
            problem = masked.mixture_problem(mixture)
            if problem:
                raise ValueError(problem)
        except (KeyError, ValueError) as exc:
            raise InputError(f"the saved model is incomplete or inconsistent ({exc})") from None
        return cls(mixture)
