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
from pyspark.ml.param.shared import HasSeed
from pyspark.sql.types import StructField

from spark_em.engine import ops
from spark_em.errors import DegenerateFitWarning, InputError, warn
from spark_em.io.matrix import aggregate_dataframe, read_dataframe
from spark_em.kernels import masked, masked_stepwise
from spark_em.kernels.arrays import add_fields
from spark_em.ml.columns import check_rows
from spark_em.ml.fitted import FittedModel
from spark_em.ml.params import (
    HasBackend,
    HasFeaturesCol,
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
from spark_em.models.rating_updates import statistics

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
        """The best of the starts fitted on ``blocks``, the problems of its fit (each also a
        ``DegenerateFitWarning``) and the statistics of ``blocks`` under its mixture (one more
        pass: what ``partialFit`` updates)."""
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
        return run, problems, statistics(blocks, run.mixture)


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

    Parameters
    ----------
    k : int, default 12
        Number of components, the user types (> 0).
    tol : float, default 1e-6
        The convergence tolerance for iterative algorithms (>= 0): EM stops when the
        objective changes by at most ``tol`` relative to its value.
    maxIter : int, default 1000
        Max number of iterations (>= 1); a fit stopped there warns
        (``ConvergenceWarning``).
    seed : int, default 0
        Random seed: start r of ``nInit`` starts from ``seed + r``.
    nInit : int, default 4
        Starts (seeds seed, seed+1, …), fitted in the same passes over the data; the best
        log-likelihood is kept.
    minVariance : float, default 0.25
        The variance floor (> 0): no component's variance falls below it.
    initMode : {"kmeans++", "reference"}, default "kmeans++"
        The start: kmeans++ (user rows drawn by k-means++ over their observed ratings,
        unrated items started at the item's mean rating) or reference (the course's: user
        rows as they are, 0 for unrated items).
    priorStrength : float, default 1.0
        A normal prior on each type's item means, centred on the item's mean rating, worth
        this many ratings (>= 0; 0: the course's M-step, no prior).
    featuresCol : str, default "features"
        Features column name: rows of ratings (``pyspark.ml`` vectors or arrays of
        numbers, all of one length), 0 where a rating is missing.
    outputCol : str, default "completed"
        Column name for each row completed (a vector): its observed entries kept, each
        missing one filled by its expected value under the model, Σ_j p(j|u) μ_{j,i}.
    backend : {"auto", "rdd", "dataframe"}, default "auto"
        Where ``fit`` keeps the data: ``auto`` takes RDD blocks in a classic session and
        the DataFrame backend under Spark Connect.
    verbose : bool, default False
        Log one line per iteration to the ``spark_em`` logger (shown on stderr while
        fitting); or configure ``logging.getLogger('spark_em')`` at INFO.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> types = rng.integers(1, 6, size=(3, 20)).astype(float)  # 3 user types, 20 items
    >>> full = types[rng.integers(0, 3, size=300)]
    >>> R = np.where(rng.random(full.shape) < 0.7, full, 0.0)  # 0 = missing
    >>> ratings_df = spark.createDataFrame([(r.tolist(),) for r in R], ["ratings"])
    >>> from spark_em.ml import MaskedGaussianMixture
    >>> mgm = MaskedGaussianMixture(k=3, featuresCol="ratings", seed=1)
    >>> model = mgm.fit(ratings_df)
    >>> model.transform(ratings_df).select("completed").show(3)
    >>> model.summary.logLikelihood, model.summary.numIter, model.summary.warnings

    The course's exact EM, which reproduces its published results:

    >>> course = mgm.copy().setParams(initMode="reference", priorStrength=0.0, nInit=1)
    >>> course.fit(ratings_df).summary.logLikelihood
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
        """Sets the params given as keywords (the constructor's; see the class's
        Parameters); the others keep their values.

        Returns
        -------
        MaskedGaussianMixture
            This estimator.
        """
        return self._set(**self._input_kwargs)

    def setOutputCol(self, value: str):
        """Sets the value of :py:attr:`outputCol`."""
        return self._set(outputCol=value)

    def _fit(self, dataset) -> MaskedGaussianMixtureModel:
        blocks = read_dataframe(
            dataset,
            self.getFeaturesCol(),
            ratings=True,
            backend=self._backend_arg(),
            param="featuresCol",
        )
        try:
            run, problems, stats = self._fitted_run(blocks)
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
        model = self._copyValues(MaskedGaussianMixtureModel(run.mixture, summary, stats))
        model._remember_inputs(dataset)
        return model


@dataclass(kw_only=True, repr=False)
class MaskedGaussianMixtureSummary(TrainingSummary):
    """A fit's report: the log-likelihood after every iteration, the last one, iterations,
    convergence, and ``warnings``: what makes the fit degenerate, if anything.

    Attributes
    ----------
    logLikelihood : float
        The observed ratings' log-likelihood under the final model.
    logLikelihoodHistory : list of float
        The objective after every iteration of the start kept (``objectiveHistory``): the
        log-likelihood, plus the prior's log-density when ``priorStrength`` > 0.
    warnings : list of str
        What makes the fit degenerate (each also raised as a ``DegenerateFitWarning``);
        empty when nothing does.
    numIter : int
        The iterations the start kept made.
    converged : bool
        Whether its stopping rule was met.

    Examples
    --------
    >>> from spark_em.ml import MaskedGaussianMixture  # ratings_df: the estimator's example
    >>> summary = MaskedGaussianMixture(k=3, featuresCol="ratings").fit(ratings_df).summary
    >>> summary.logLikelihood, summary.numIter, summary.converged, summary.warnings
    >>> summary.logLikelihoodHistory[-3:]
    """

    objective: ClassVar[str] = "logLikelihood"

    logLikelihood: float
    logLikelihoodHistory: list[float]
    warnings: list[str] = field(default_factory=list)


class MaskedGaussianMixtureModel(FittedModel, _MaskedParams):
    """A fitted masked mixture: ``weights``, ``means``, ``variances``, ``summary``; ``transform``
    adds the row with its missing entries filled by equation (6); ``partialFit`` updates it
    with new rows.

    Made by ``MaskedGaussianMixture.fit`` or read by ``MaskedGaussianMixtureModel.load``.

    Parameters
    ----------
    mixture : kernels.masked.SphericalMixture, optional
        The fitted weights, means and variances.
    summary : MaskedGaussianMixtureSummary, optional
        The summary of the fit.
    stats : kernels.masked.MaskedStats, optional
        The statistics of the training rows under ``mixture`` that ``partialFit`` updates
        (kept by ``fit``; saved with the model).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> types = rng.integers(1, 6, size=(3, 20)).astype(float)  # 3 user types, 20 items
    >>> full = types[rng.integers(0, 3, size=300)]
    >>> R = np.where(rng.random(full.shape) < 0.7, full, 0.0)  # 0 = missing
    >>> ratings_df = spark.createDataFrame([(r.tolist(),) for r in R], ["ratings"])
    >>> from spark_em.ml import MaskedGaussianMixture, MaskedGaussianMixtureModel
    >>> model = MaskedGaussianMixture(k=3, featuresCol="ratings", seed=1).fit(ratings_df)
    >>> model.weights, model.means.shape, model.variances
    >>> model.write().overwrite().save("models/completion")
    >>> loaded = MaskedGaussianMixtureModel.load("models/completion")
    >>> loaded.transform(ratings_df).select("completed").first()
    """

    summary_class = MaskedGaussianMixtureSummary
    key_params = ("k",)

    def __init__(
        self,
        mixture: masked.SphericalMixture | None = None,
        summary: MaskedGaussianMixtureSummary | None = None,
        stats: masked.MaskedStats | None = None,
    ):
        super().__init__(summary)
        self._mixture = mixture
        self._stats = stats

    def partialFit(self, dataset, stepSize: float | None = None) -> MaskedGaussianMixtureModel:
        """A new model after one stepwise EM update with the rows of ``dataset``
        (``kernels.masked_stepwise``): the statistics of its rows under this model enter the
        model's own with a step η, and the parameters are their M-step (with the prior of
        ``priorStrength``, centred on the columns' mean ratings in the statistics). One pass
        over ``dataset``, nothing cached.

        By default η = n_b / (n + n_b), the batch's rows added to the n rows the model stands
        for, as a refit on all of them counts them: after a fit this is exactly one EM
        iteration from this model on the training rows and the new ones together.
        ``stepSize=1`` replaces the model's statistics by the batch's: exactly one EM
        iteration from this model on ``dataset``.

        Parameters
        ----------
        dataset : pyspark.sql.DataFrame
            New rows of ratings in ``featuresCol`` (0 = missing), as wide as the model's.
        stepSize : float, optional
            η in (0, 1].

        Returns
        -------
        MaskedGaussianMixtureModel
            A new model with this one's params (this one is unchanged); its summary's
            ``logLikelihood`` is the batch's under this model.

        Examples
        --------
        >>> model = MaskedGaussianMixture(k=3, featuresCol="ratings").fit(ratings_df)
        >>> model = model.partialFit(new_rows_df)  # the new users' rows added
        """
        if stepSize is not None and not 0.0 < float(stepSize) <= 1.0:
            raise InputError(f"stepSize must be in (0, 1], got {stepSize}")
        if self._stats is None and (stepSize is None or float(stepSize) < 1.0):
            raise InputError(
                "this model holds no statistics of its training rows (it was saved before "
                "partialFit existed): refit it, or give stepSize=1"
            )
        d = self.means.shape[1]

        def stats_of(values, mixture):
            if values.shape[1] != d:
                raise InputError(
                    f"the rows have {values.shape[1]} ratings; the model was fitted on {d}"
                )
            return masked.block_stats(values, mixture)

        batch, _ = aggregate_dataframe(
            dataset,
            self.getFeaturesCol(),
            stats_of,
            add_fields,
            self._mixture,
            param="featuresCol",
            ratings=True,
        )
        if batch is None or batch.n_rows == 0:
            raise InputError("the batch has no rows to learn from")
        stats = masked_stepwise.merged(
            self._stats, batch, None if stepSize is None else float(stepSize)
        )
        mixture = masked_stepwise.refreshed(
            stats, self._mixture, self.getMinVariance(), self.getPriorStrength()
        )
        ll = float(batch.log_likelihood)
        summary = MaskedGaussianMixtureSummary(
            logLikelihood=ll, logLikelihoodHistory=[ll], numIter=1, converged=False
        )
        model = self._copyValues(MaskedGaussianMixtureModel(mixture, summary, stats))
        model._input_columns = self._input_columns
        return model

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
        return {**self._mixture._asdict(), **stats_arrays(self._stats)}

    def _extra(self) -> dict:
        return stats_extra(self._stats)

    @classmethod
    def _from_saved(cls, arrays: dict, extra: dict) -> MaskedGaussianMixtureModel:
        try:
            mixture = masked.SphericalMixture(
                **{name: arrays[name] for name in masked.SphericalMixture._fields}
            )
            problem = masked.mixture_problem(mixture)
            if problem:
                raise ValueError(problem)
            stats = saved_stats(arrays, extra, mixture.means.shape)
        except (KeyError, ValueError) as exc:
            raise InputError(f"the saved model is incomplete or inconsistent ({exc})") from None
        return cls(mixture, stats=stats)


# the statistics a masked model keeps for partialFit, as saved arrays and metadata
_STATS_ARRAYS = {
    "statsResp": "resp",
    "statsRespX": "resp_x",
    "statsRespObserved": "resp_observed",
    "statsRespSqNorm": "resp_sq_norm",
}


def stats_arrays(stats: masked.MaskedStats | None) -> dict:
    """The arrays of ``stats`` as a model saves them (none without statistics)."""
    if stats is None:
        return {}
    return {name: np.asarray(getattr(stats, field)) for name, field in _STATS_ARRAYS.items()}


def stats_extra(stats: masked.MaskedStats | None) -> dict:
    """The numbers of ``stats`` as a model's metadata saves them."""
    if stats is None:
        return {}
    return {"statsRows": float(stats.n_rows), "statsLogLikelihood": float(stats.log_likelihood)}


def saved_stats(arrays: dict, extra: dict, shape: tuple) -> masked.MaskedStats | None:
    """The statistics a model saved (``stats_arrays``, ``stats_extra``), checked against its
    means' ``shape``; None for a model saved without them."""
    if "statsResp" not in arrays:
        return None
    fields = {field: np.asarray(arrays[name], float) for name, field in _STATS_ARRAYS.items()}
    k, d = shape
    if fields["resp"].shape != (k,) or fields["resp_x"].shape != (k, d):
        raise ValueError("its statistics do not match its means")
    return masked.MaskedStats(
        log_likelihood=float(extra["statsLogLikelihood"]),
        n_rows=float(extra["statsRows"]),
        **fields,
    )
