"""The spark.ml-style masked mixture (matrix completion): ``MaskedGaussianMixture`` and its
model."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
from pyspark import keyword_only
from pyspark.ml import Estimator
from pyspark.ml.linalg import VectorUDT
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.ml.param.shared import HasFeaturesCol, HasSeed
from pyspark.sql.types import StructField

from spark_em.engine import ops
from spark_em.errors import DegenerateFitWarning, InputError, warn
from spark_em.io.matrix import read_dataframe
from spark_em.kernels import masked
from spark_em.ml.columns import check_rows
from spark_em.ml.fitted import FittedModel
from spark_em.ml.params import (
    HasBackend,
    HasIterationParams,
    HasVerbose,
    MixtureSetters,
    gt,
    gt_eq,
    in_array,
)
from spark_em.ml.persistence import DefaultParamsReadable, ParamsWritable
from spark_em.ml.summary import TrainingSummary, warn_unconverged
from spark_em.ml.tracking import Tracked
from spark_em.models import masked as masked_model

# Defaults measured on held-out ratings (benchmarks/bench_recommender_defaults.py): four
# k-means++ starts and a prior worth one rating per type and item.
N_INIT = 4
PRIOR_STRENGTH = 1.0


class MaskedFitParams(HasIterationParams, HasSeed):
    """How a masked mixture is fitted, shared by ``MaskedGaussianMixture`` and
    ``MixtureRecommender``: K, the starts, the variance floor and the prior."""

    k = Param(
        Params._dummy(),
        "k",
        "number of components, the user types (> 0)",
        gt("k", 0, TypeConverters.toInt),
    )
    nInit = Param(
        Params._dummy(),
        "nInit",
        "starts (seeds seed, seed+1, …); the best log-likelihood is kept",
        gt_eq("nInit", 1, TypeConverters.toInt),
    )
    minVariance = Param(
        Params._dummy(), "minVariance", "variance floor (> 0)", gt("minVariance", 0)
    )
    initMode = Param(
        Params._dummy(),
        "initMode",
        "the start: kmeans++ (user rows drawn by k-means++ over their observed ratings, "
        "unrated items started at the item's mean rating) or reference (the course's: user "
        "rows as they are, 0 for unrated items)",
        in_array("initMode", masked_model.INIT_MODES),
    )
    priorStrength = Param(
        Params._dummy(),
        "priorStrength",
        "a normal prior on each type's item means, centred on the item's mean rating, worth "
        "this many ratings (>= 0; 0: the course's M-step, no prior)",
        gt_eq("priorStrength", 0.0, TypeConverters.toFloat),
    )

    def __init__(self, *args):
        super().__init__(*args)
        self._setDefault(
            k=12,
            nInit=N_INIT,
            minVariance=masked.MIN_VARIANCE,
            initMode="kmeans++",
            priorStrength=PRIOR_STRENGTH,
            maxIter=1000,
            tol=1e-6,
            seed=0,
        )

    def getK(self) -> int:
        """Gets the value of k or its default value."""
        return self.getOrDefault(self.k)

    def getNInit(self) -> int:
        """Gets the value of nInit or its default value."""
        return self.getOrDefault(self.nInit)

    def getMinVariance(self) -> float:
        """Gets the value of minVariance or its default value."""
        return self.getOrDefault(self.minVariance)

    def getInitMode(self) -> str:
        """Gets the value of initMode or its default value."""
        return self.getOrDefault(self.initMode)

    def getPriorStrength(self) -> float:
        """Gets the value of priorStrength or its default value."""
        return self.getOrDefault(self.priorStrength)

    def setNInit(self, value: int):
        """Sets the value of :py:attr:`nInit`."""
        return self._set(nInit=value)

    def setMinVariance(self, value: float):
        """Sets the value of :py:attr:`minVariance`."""
        return self._set(minVariance=value)

    def setInitMode(self, value: str):
        """Sets the value of :py:attr:`initMode`."""
        return self._set(initMode=value)

    def setPriorStrength(self, value: float):
        """Sets the value of :py:attr:`priorStrength`."""
        return self._set(priorStrength=value)

    def _fitted_run(self, blocks):
        """The best of the starts fitted on ``blocks``, and the problems of its fit (each
        also a ``DegenerateFitWarning``)."""
        summary = ops.summarize(blocks)
        runs = masked_model.fit_all(
            blocks,
            [self.getK()],
            range(self.getSeed(), self.getSeed() + self.getNInit()),
            tol=self.getTol(),
            max_iter=self.getMaxIter(),
            min_variance=self.getMinVariance(),
            init=self.getInitMode(),
            prior_strength=self.getPriorStrength(),
            summary=summary,
        )
        run = masked_model.best(runs)
        problems = masked_model.degeneracies(
            run.mixture,
            summary.n_rows - summary.n_empty_rows,
            masked_model.observed_range(blocks),
        )
        for problem in problems:
            warn(f"{type(self).__name__}: {problem}", DegenerateFitWarning)
        return run, problems


class _MaskedParams(HasFeaturesCol, MaskedFitParams):
    outputCol = Param(
        Params._dummy(), "outputCol", "column for the completed row", TypeConverters.toString
    )

    def __init__(self, *args):
        super().__init__(*args)
        self._setDefault(outputCol="completed")

    def getOutputCol(self) -> str:
        """Gets the value of outputCol or its default value."""
        return self.getOrDefault(self.outputCol)


class MaskedGaussianMixture(
    Tracked,
    HasVerbose,
    Estimator,
    _MaskedParams,
    HasBackend,
    MixtureSetters,
    DefaultParamsReadable,
    ParamsWritable,
):
    """EM for the masked spherical mixture on rows of ratings (0 = missing); ``transform`` adds
    the completed row.

    The defaults are ``MixtureRecommender``'s, made for sparse ratings: four starts
    (``nInit``) drawn by k-means++ over the rows' observed ratings (``initMode="kmeans++"``)
    and a prior on each component's means centred on the column's mean rating, worth one
    rating (``priorStrength=1``); K = 12, tol 1e-6 relative, up to 1000 iterations, variance
    floor 0.25. ``initMode="reference", priorStrength=0, nInit=1`` is the course's exact EM
    (``models.masked.fit``), which reproduces its published results. A degenerate fit warns
    (``DegenerateFitWarning``) and lists the problem in ``summary.warnings``.

    >>> model = MaskedGaussianMixture(k=12, featuresCol="ratings").fit(ratings_df)
    >>> model.transform(ratings_df).select("completed")
    """

    @keyword_only
    def __init__(
        self,
        *,
        k=12,
        tol=1e-6,
        maxIter=1000,
        seed=0,
        nInit=N_INIT,
        minVariance=masked.MIN_VARIANCE,
        initMode="kmeans++",
        priorStrength=PRIOR_STRENGTH,
        featuresCol="features",
        outputCol="completed",
        backend="auto",
        verbose=False,
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
        nInit=N_INIT,
        minVariance=masked.MIN_VARIANCE,
        initMode="kmeans++",
        priorStrength=PRIOR_STRENGTH,
        featuresCol="features",
        outputCol="completed",
        backend="auto",
        verbose=False,
    ):
        return self._set(**self._input_kwargs)

    def setOutputCol(self, value: str):
        """Sets the value of :py:attr:`outputCol`."""
        return self._set(outputCol=value)

    def _fit(self, dataset) -> MaskedGaussianMixtureModel:
        blocks = read_dataframe(
            dataset, self.getFeaturesCol(), ratings=True, backend=self._backend_arg()
        )
        try:
            run, problems = self._fitted_run(blocks)
        finally:
            ops.release(blocks)
        summary = MaskedGaussianMixtureSummary(
            logLikelihood=run.log_likelihood,
            numIter=run.n_iter,
            converged=run.converged,
            logLikelihoodHistory=[h.objective for h in run.history],
            warnings=problems,
        )
        warn_unconverged(self, summary)
        model = self._copyValues(MaskedGaussianMixtureModel(run.mixture, summary))
        model._remember_inputs(dataset)
        return model


@dataclass(kw_only=True, repr=False)
class MaskedGaussianMixtureSummary(TrainingSummary):
    """A fit's report: the log-likelihood after every iteration, the last one, iterations,
    convergence, and ``warnings``: what makes the fit degenerate, if anything."""

    objective: ClassVar[str] = "logLikelihood"

    logLikelihood: float
    logLikelihoodHistory: list[float]
    warnings: list[str] = field(default_factory=list)


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
