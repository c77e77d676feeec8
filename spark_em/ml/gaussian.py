"""The spark.ml-style Gaussian mixture on complete data: ``GaussianMixture`` and its model.

Beyond MLlib's: row weights for every covariance type (``weightCol``), an ``initialModel``,
model selection over ``kValues`` × ``covarianceTypes`` in one fit, and on the model
``sample``, ``score``/``evaluate`` on other data, ``predict`` of one row and ``gaussiansDF``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
from pyspark import keyword_only
from pyspark.ml import Estimator
from pyspark.ml.linalg import DenseMatrix, DenseVector, VectorUDT
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.ml.param.shared import (
    HasPredictionCol,
    HasProbabilityCol,
    HasSeed,
    HasWeightCol,
)
from pyspark.sql.types import DoubleType, IntegerType, StructField

from spark_em.engine import ops
from spark_em.errors import InputError
from spark_em.io.matrix import aggregate_dataframe, read_dataframe
from spark_em.kernels import gaussian, missing, stepwise
from spark_em.kernels.arrays import add_fields
from spark_em.ml.columns import check_rows
from spark_em.ml.fitted import FittedModel
from spark_em.ml.params import (
    HasBackend,
    HasFeaturesCol,
    HasIterationParams,
    HasStepParams,
    HasVerbose,
    MixtureSetters,
    given,
    gt,
    gt_eq,
    in_array,
    validated,
)
from spark_em.ml.persistence import DefaultParamsReadable, ParamsWritable
from spark_em.ml.summary import TrainingSummary, warn_unconverged
from spark_em.ml.tracking import Tracked
from spark_em.models import gaussian as gaussian_model
from spark_em.models import gaussian_outputs as outputs
from spark_em.models.gaussian import INIT_MODES
from spark_em.models.selection import CRITERIA

MISSING_VALUES = ("none", "nan", "zero")
# the defaults of the mixture's params that the estimator and the streaming trainer share
MIXTURE_DEFAULTS = dict(
    k=2,
    covarianceType="full",
    initMode="kmeans++",
    regCovar=gaussian.REG_COVAR,
    seed=0,
    logLikelihoodCol="logLikelihood",
    missingValue="none",
    imputedCol="imputed",
)


def _as_initial_model(value) -> dict:
    """An initial model as plain lists (JSON, so the estimator saves with it): from a fitted
    ``GaussianMixtureModel``, a ``kernels.gaussian.Mixture`` or a dict with weights, means,
    covariances and covarianceType (and, for ``factor``, the noise variances as covariances
    and loadings)."""
    if isinstance(value, GaussianMixtureModel):
        value = value._mixture
    if isinstance(value, gaussian.Mixture):
        value = {
            "weights": value.weights,
            "means": value.means,
            "covariances": value.covariances,
            "covarianceType": value.covariance_type,
            **({"loadings": value.loadings} if value.covariance_type == "factor" else {}),
        }
    if not isinstance(value, dict) or not {"weights", "means", "covariances"} <= set(value):
        raise TypeError(
            "initialModel must be a GaussianMixtureModel, a Mixture or a dict with "
            f"weights, means, covariances and covarianceType, not {type(value).__name__}"
        )
    kind = value.get("covarianceType", "full")
    if kind not in gaussian.COVARIANCE_TYPES:
        raise TypeError(
            f"initialModel's covarianceType must be one of "
            f"{', '.join(gaussian.COVARIANCE_TYPES)}, not {kind!r}"
        )
    if kind == "factor" and "loadings" not in value:
        raise TypeError("initialModel of covarianceType factor needs its loadings")
    out = {
        "weights": np.asarray(value["weights"], dtype=np.float64).tolist(),
        "means": np.asarray(value["means"], dtype=np.float64).tolist(),
        "covariances": np.asarray(value["covariances"], dtype=np.float64).tolist(),
        "covarianceType": kind,
    }
    if kind == "factor":
        out["loadings"] = np.asarray(value["loadings"], dtype=np.float64).tolist()
    return out


class _GaussianMixtureParams(
    HasFeaturesCol, HasPredictionCol, HasProbabilityCol, HasIterationParams, HasSeed, HasWeightCol
):
    k = Param(Params._dummy(), "k", "number of components (> 0)", gt("k", 0, TypeConverters.toInt))
    covarianceType = Param(
        Params._dummy(),
        "covarianceType",
        "covariance type: full, tied, diag, spherical or factor (a mixture of factor "
        "analysers: Λ Λᵀ + Ψ, Λ d × nFactors, Ψ diagonal)",
        in_array("covarianceType", gaussian.COVARIANCE_TYPES),
    )
    nFactors = Param(
        Params._dummy(),
        "nFactors",
        "factors of each component when covarianceType is factor (>= 0; 0 is diag)",
        gt_eq("nFactors", 0, TypeConverters.toInt),
    )
    nFactorsValues = Param(
        Params._dummy(),
        "nFactorsValues",
        "several numbers of factors to fit for the factor type in the same passes",
        validated(
            "nFactorsValues",
            TypeConverters.toListInt,
            lambda v: len(v) > 0 and min(v) >= 0,
            "a non-empty list of numbers of factors >= 0",
        ),
    )
    initMode = Param(
        Params._dummy(),
        "initMode",
        "initialisation: kmeans++, random or reference",
        in_array("initMode", INIT_MODES),
    )
    nInit = Param(
        Params._dummy(),
        "nInit",
        "restarts (>= 1); the best log-likelihood is kept",
        gt_eq("nInit", 1, TypeConverters.toInt),
    )
    regCovar = Param(
        Params._dummy(),
        "regCovar",
        "added to the covariance diagonals (>= 0)",
        gt_eq("regCovar", 0),
    )
    logLikelihoodCol = Param(
        Params._dummy(),
        "logLikelihoodCol",
        "column for each row's log-likelihood",
        TypeConverters.toString,
    )
    missingValue = Param(
        Params._dummy(),
        "missingValue",
        "what marks a missing value: none (every value must be a number), "
        "nan (NaN, or a null array element) or zero (0)",
        in_array("missingValue", MISSING_VALUES),
    )
    imputedCol = Param(
        Params._dummy(),
        "imputedCol",
        "column for the rows with their missing values imputed (when missingValue is nan or zero)",
        TypeConverters.toString,
    )
    initialModel = Param(
        Params._dummy(),
        "initialModel",
        "where EM starts: a fitted GaussianMixtureModel, a Mixture, or a dict "
        "of weights, means, covariances and covarianceType (its K and type "
        "are the fit's)",
        _as_initial_model,
    )
    kValues = Param(
        Params._dummy(),
        "kValues",
        "several K to fit in the same passes; the best by criterion is returned",
        validated(
            "kValues",
            TypeConverters.toListInt,
            lambda v: len(v) > 0 and min(v) >= 1,
            "a non-empty list of K >= 1",
        ),
    )
    covarianceTypes = Param(
        Params._dummy(),
        "covarianceTypes",
        "several covariance types to fit with each K in the same passes",
        validated(
            "covarianceTypes",
            TypeConverters.toListString,
            lambda v: len(v) > 0 and set(v) <= set(gaussian.COVARIANCE_TYPES),
            f"a non-empty list of {', '.join(gaussian.COVARIANCE_TYPES)}",
        ),
    )
    criterion = Param(
        Params._dummy(),
        "criterion",
        "how kValues / covarianceTypes are compared: bic or aic (scikit-learn's "
        "convention: −2·LL + p·log n and −2·LL + 2p, the lowest wins)",
        in_array("criterion", CRITERIA),
    )

    def __init__(self, *args):
        super().__init__(*args)
        self._setDefault(
            **MIXTURE_DEFAULTS, nFactors=2, nInit=1, maxIter=100, tol=1e-6, criterion="bic"
        )

    def getMissingValue(self) -> str:
        """Gets the value of missingValue or its default value."""
        return self.getOrDefault(self.missingValue)

    def getImputedCol(self) -> str:
        """Gets the value of imputedCol or its default value."""
        return self.getOrDefault(self.imputedCol)

    def _missing_arg(self) -> str | None:
        """The readers' ``missing=`` argument."""
        return None if self.getMissingValue() == "none" else self.getMissingValue()

    def getK(self) -> int:
        """Gets the value of k or its default value."""
        return self.getOrDefault(self.k)

    def getCovarianceType(self) -> str:
        """Gets the value of covarianceType or its default value."""
        return self.getOrDefault(self.covarianceType)

    def getInitMode(self) -> str:
        """Gets the value of initMode or its default value."""
        return self.getOrDefault(self.initMode)

    def getNInit(self) -> int:
        """Gets the value of nInit or its default value."""
        return self.getOrDefault(self.nInit)

    def getRegCovar(self) -> float:
        """Gets the value of regCovar or its default value."""
        return self.getOrDefault(self.regCovar)

    def getLogLikelihoodCol(self) -> str:
        """Gets the value of logLikelihoodCol or its default value."""
        return self.getOrDefault(self.logLikelihoodCol)

    def getInitialModel(self) -> dict | None:
        """Gets the value of :py:attr:`initialModel`, as the param keeps it.

        Returns
        -------
        dict or None
            ``weights``, ``means`` and ``covariances`` as lists and ``covarianceType``;
            None when no initial model is set.
        """
        return self.getOrDefault(self.initialModel) if self.isDefined(self.initialModel) else None

    def getKValues(self) -> list[int]:
        """The K a fit tries: :py:attr:`kValues` when set, else :py:attr:`k` alone.

        Returns
        -------
        list of int
            The candidates' K.
        """
        return self.getOrDefault(self.kValues) if self.isDefined(self.kValues) else [self.getK()]

    def getCovarianceTypes(self) -> list[str]:
        """The covariance types a fit tries: :py:attr:`covarianceTypes` when set, else
        :py:attr:`covarianceType` alone.

        Returns
        -------
        list of str
            The candidates' covariance types.
        """
        return (
            self.getOrDefault(self.covarianceTypes)
            if self.isDefined(self.covarianceTypes)
            else [self.getCovarianceType()]
        )

    def getCriterion(self) -> str:
        """Gets the value of criterion or its default value."""
        return self.getOrDefault(self.criterion)

    def getNFactors(self) -> int:
        """Gets the value of nFactors or its default value."""
        return self.getOrDefault(self.nFactors)

    def getNFactorsValues(self) -> list[int]:
        """The numbers of factors a fit of the factor type tries: :py:attr:`nFactorsValues`
        when set, else :py:attr:`nFactors` alone.

        Returns
        -------
        list of int
            The candidates' numbers of factors.
        """
        if self.isDefined(self.nFactorsValues):
            return self.getOrDefault(self.nFactorsValues)
        return [self.getNFactors()]

    def _weight_arg(self) -> str | None:
        """The readers' ``weights=``: the weight column, when one is set (and not empty)."""
        if self.isDefined(self.weightCol) and self.getWeightCol():
            return self.getWeightCol()
        return None


@dataclass(kw_only=True, repr=False)
class GaussianMixtureSummary(TrainingSummary):
    """What a fit reports: the log-likelihood after every iteration, iterations, soft cluster
    sizes, the rows (``numRows``: with ``weightCol``, the sum of the weights, the n of BIC)
    and, for a model selection, every candidate compared (``candidates``).

    Attributes
    ----------
    logLikelihoodHistory : list of float
        The log-likelihood after every iteration (``objectiveHistory``).
    logLikelihood : float
        The training data's log-likelihood under the final model.
    clusterSizes : list of float
        Each component's soft size: the sum of its posterior probabilities over the rows
        (weighted, with ``weightCol``).
    numRows : float
        The rows, or with ``weightCol`` the sum of the weights (BIC's n).
    candidateRows : list of dict
        One row per candidate compared (what ``candidates`` shows).
    criterion : str
        The criterion the candidates were compared by (``bic`` or ``aic``).
    numIter : int
        The iterations the chosen fit made.
    converged : bool
        Whether its stopping rule was met.

    Examples
    --------
    >>> from spark_em.ml import GaussianMixture  # df: the estimator's example
    >>> summary = GaussianMixture(kValues=[2, 3, 4]).fit(df).summary
    >>> summary.logLikelihood, summary.numIter, summary.clusterSizes
    >>> summary.metrics()["bic"]
    >>> summary.candidates.orderBy("bic").show()
    """

    objective: ClassVar[str] = "logLikelihood"

    logLikelihoodHistory: list[float]
    clusterSizes: list[float]
    logLikelihood: float
    numRows: float = 0
    candidateRows: list[dict] = field(default_factory=list)
    criterion: str = "bic"

    def _shown(self) -> list[tuple[str, str]]:
        """K, the weights (soft cluster sizes over the rows), log-likelihood, BIC,
        iterations, convergence."""
        from spark_em.ml.summary import _text

        total = sum(self.clusterSizes) or 1.0
        rows = [
            ("k", str(len(self.clusterSizes))),
            ("weights", _text([round(c / total, 4) for c in self.clusterSizes])),
            ("logLikelihood", _text(self.logLikelihood)),
        ]
        chosen = [r for r in self.candidateRows if r.get("chosen")]
        if chosen:
            rows.append(("bic", _text(chosen[0]["bic"])))
            rows.append(("candidates", str(len(self.candidateRows))))
        return [*rows, ("numIter", str(self.numIter)), ("converged", str(self.converged))]

    def metrics(self) -> dict[str, float]:
        """The final figures, with the chosen candidate's ``bic``, ``aic`` (scikit-learn's
        convention) and ``courseBic``.

        Returns
        -------
        dict of str to float
            Each finite number among the figures, by name, and those three.
        """
        figures = super().metrics()
        for row in self.candidateRows:
            if row.get("chosen"):
                figures.update({k: float(row[k]) for k in ("bic", "aic", "courseBic")})
        return figures

    @property
    def candidates(self):
        """A DataFrame: k, covarianceType, nFactors (0 unless factor), logLikelihood, numParams,
        bic and aic
        (scikit-learn's −2·LL + p·log n and −2·LL + 2p, lower is better), courseBic (the
        course's LL − ½·p·log n, higher is better: −½ bic), numIter, converged and chosen."""
        from pyspark.sql import SparkSession

        from spark_em.models.gaussian_outputs import CANDIDATE_FIELDS

        schema = (
            "k int, covarianceType string, nFactors int, logLikelihood double, numParams int, "
            "bic double, aic double, courseBic double, numIter int, "
            "converged boolean, chosen boolean"
        )
        rows = [
            tuple({"nFactors": 0, **r}[f] for f in CANDIDATE_FIELDS) for r in self.candidateRows
        ]
        return SparkSession.active().createDataFrame(rows, schema)


class GaussianMixture(
    Tracked,
    HasVerbose,
    Estimator,
    _GaussianMixtureParams,
    HasBackend,
    MixtureSetters,
    DefaultParamsReadable,
    ParamsWritable,
):
    """EM for a Gaussian mixture on a DataFrame column (vectors or arrays of doubles).

    Defaults follow ``pyspark.ml.clustering.GaussianMixture`` where it has the param (k=2,
    maxIter=100) and scikit-learn's ``GaussianMixture`` otherwise (a k-means++ start,
    reg_covar 1e-6). ``tol`` is 1e-6 on the relative change of the log-likelihood, the
    course's rule: stricter than scikit-learn's 1e-3 on the change of the mean log-likelihood
    per row, so fits stop nearer the optimum. Not the library's ``models.gaussian.fit`` (the
    course's reference start, up to 1000 iterations): set ``initMode="reference"``,
    ``maxIter=1000`` for the course's fit.

    With ``missingValue="nan"`` (or ``"zero"``) rows may miss values: the fit is exact EM for
    incomplete data, and ``transform`` also adds ``imputedCol``, each row with its missing
    values replaced by their conditional expectation under the model.

    Parameters
    ----------
    k : int, default 2
        Number of independent Gaussians in the mixture model (> 0).
    covarianceType : {"full", "tied", "diag", "spherical", "factor"}, default "full"
        The components' covariances: each its own matrix, one matrix shared, each diagonal,
        or each one variance (scikit-learn's types); or ``factor``, a mixture of factor
        analysers, each Σ_k = Λ_k Λ_kᵀ + Ψ_k with ``nFactors`` loadings Λ_k and Ψ_k
        diagonal: d·q numbers a component in place of d², for rows of many dimensions.
    nFactors : int, default 2
        q, the factors of each component when ``covarianceType`` is ``factor`` (>= 0; 0 is
        the diagonal mixture).
    tol : float, default 1e-6
        The convergence tolerance for iterative algorithms (>= 0): EM stops when the
        log-likelihood changes by at most ``tol`` relative to its value.
    maxIter : int, default 100
        Max number of iterations (>= 1); a fit stopped there warns
        (``ConvergenceWarning``).
    seed : int, default 0
        Random seed of the start (restart r of ``nInit`` starts from ``seed + r``).
    initMode : {"kmeans++", "random", "reference"}, default "kmeans++"
        The start: greedy k-means++ rows then one hard-assignment pass for the weights and
        covariances, K distinct rows drawn uniformly then the same pass, or the course's
        reference start (``models.gaussian``).
    nInit : int, default 1
        Restarts (>= 1), fitted in the same passes over the data; the best log-likelihood
        is kept.
    regCovar : float, default 1e-6
        Added to the covariance diagonals (>= 0), scikit-learn's ``reg_covar``.
    featuresCol : str, default "features"
        Features column name: ``pyspark.ml`` vectors or arrays of doubles, all of one
        length.
    predictionCol : str, default "prediction"
        Prediction column name: each row's most probable component.
    probabilityCol : str, default "probability"
        Column name for the posterior probability of each component (a vector).
    logLikelihoodCol : str, default "logLikelihood"
        Column name for each row's log-likelihood under the model.
    backend : {"auto", "rdd", "dataframe"}, default "auto"
        Where ``fit`` keeps the data: ``auto`` takes RDD blocks in a classic session and
        the DataFrame backend under Spark Connect.
    missingValue : {"none", "nan", "zero"}, default "none"
        What marks a missing value: none (every value must be a number), NaN (or a null
        array element), or 0.
    imputedCol : str, default "imputed"
        Column name for each row with its missing values imputed (when ``missingValue`` is
        ``nan`` or ``zero``).
    weightCol : str, optional
        Weight column name (finite, >= 0). If this is not set or empty, we treat all
        instance weights as 1.0; the sum of the weights is BIC's n.
    initialModel : GaussianMixtureModel, Mixture or dict, optional
        Where EM starts: a fitted model, a ``kernels.gaussian.Mixture``, or a dict of
        ``weights``, ``means``, ``covariances`` and ``covarianceType``; its K and
        covariance type are the fit's (setting another ``k`` or ``kValues`` is refused).
    kValues : list of int, optional
        Several K to fit in the same passes; the best by ``criterion`` is returned. By
        default ``[k]``.
    covarianceTypes : list of str, optional
        Several covariance types to fit with each K in the same passes. By default
        ``[covarianceType]``.
    nFactorsValues : list of int, optional
        Several numbers of factors for the ``factor`` type, each a candidate of its own.
        By default ``[nFactors]``.
    criterion : {"bic", "aic"}, default "bic"
        How the candidates of ``kValues`` × ``covarianceTypes`` (× ``nFactorsValues``) are
        compared
        (scikit-learn's convention: −2·LL + p·log n and −2·LL + 2p, the lowest wins).
    verbose : bool, default False
        Log one line per iteration to the ``spark_em`` logger (shown on stderr while
        fitting); or configure ``logging.getLogger('spark_em')`` at INFO.

    Examples
    --------
    >>> import numpy as np
    >>> from pyspark.ml.linalg import Vectors
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal(c, 1.0, size=(100, 2)) for c in ([4, 0], [6, 6], [0, 4])])
    >>> df = spark.createDataFrame([(Vectors.dense(x),) for x in X], ["features"])
    >>> from spark_em.ml import GaussianMixture
    >>> gm = GaussianMixture(k=3, covarianceType="full", seed=1)
    >>> gm.getMaxIter()
    100
    >>> model = gm.fit(df)
    >>> model.transform(df).select("prediction", "probability", "logLikelihood").show(3)
    >>> model.summary.converged
    True

    Model selection in one fit, and a fit with missing values:

    >>> best = GaussianMixture(kValues=[1, 2, 3, 4], covarianceTypes=["full", "diag"]).fit(df)
    >>> best.getK(), best.getCovarianceType()  # the candidate with the lowest BIC
    >>> best.summary.candidates.show()
    >>> rows = [([1.0, float("nan")],), *((x.tolist(),) for x in X)]  # arrays, a NaN
    >>> gaps = spark.createDataFrame(rows, ["features"])
    >>> with_gaps = GaussianMixture(k=3, seed=1, missingValue="nan").fit(gaps)
    >>> with_gaps.transform(gaps).select("prediction", "imputed").show(3)

    A mixture of factor analysers, and BIC's choice of its number of factors:

    >>> mfa = GaussianMixture(k=3, covarianceType="factor", nFactors=1).fit(df)
    >>> mfa.loadings.shape, mfa.noiseVariances.shape  # K × d × q and K × d
    >>> chosen = GaussianMixture(k=3, covarianceType="factor", nFactorsValues=[0, 1, 2]).fit(df)
    >>> chosen.getNFactors(), chosen.summary.candidates.show()
    """

    @keyword_only
    def __init__(
        self,
        *,
        k=2,
        covarianceType="full",
        tol=1e-6,
        maxIter=100,
        seed=0,
        initMode="kmeans++",
        nInit=1,
        regCovar=gaussian.REG_COVAR,
        featuresCol="features",
        predictionCol="prediction",
        probabilityCol="probability",
        logLikelihoodCol="logLikelihood",
        backend="auto",
        verbose=False,
        missingValue="none",
        imputedCol="imputed",
        weightCol=None,
        initialModel=None,
        kValues=None,
        covarianceTypes=None,
        criterion="bic",
        nFactors=2,
        nFactorsValues=None,
    ):
        super().__init__()
        self._set(**given(self._input_kwargs))

    @keyword_only
    def setParams(
        self,
        *,
        k=2,
        covarianceType="full",
        tol=1e-6,
        maxIter=100,
        seed=0,
        initMode="kmeans++",
        nInit=1,
        regCovar=gaussian.REG_COVAR,
        featuresCol="features",
        predictionCol="prediction",
        probabilityCol="probability",
        logLikelihoodCol="logLikelihood",
        backend="auto",
        verbose=False,
        missingValue="none",
        imputedCol="imputed",
        weightCol=None,
        initialModel=None,
        kValues=None,
        covarianceTypes=None,
        criterion="bic",
        nFactors=2,
        nFactorsValues=None,
    ):
        """Sets the params given as keywords (the constructor's; see the class's
        Parameters); the others keep their values.

        Returns
        -------
        GaussianMixture
            This estimator.
        """
        return self._set(**given(self._input_kwargs))

    def setCovarianceType(self, value: str):
        """Sets the value of :py:attr:`covarianceType`."""
        return self._set(covarianceType=value)

    def setInitMode(self, value: str):
        """Sets the value of :py:attr:`initMode`."""
        return self._set(initMode=value)

    def setNInit(self, value: int):
        """Sets the value of :py:attr:`nInit`."""
        return self._set(nInit=value)

    def setRegCovar(self, value: float):
        """Sets the value of :py:attr:`regCovar`."""
        return self._set(regCovar=value)

    def setPredictionCol(self, value: str):
        """Sets the value of :py:attr:`predictionCol`."""
        return self._set(predictionCol=value)

    def setProbabilityCol(self, value: str):
        """Sets the value of :py:attr:`probabilityCol`."""
        return self._set(probabilityCol=value)

    def setLogLikelihoodCol(self, value: str):
        """Sets the value of :py:attr:`logLikelihoodCol`."""
        return self._set(logLikelihoodCol=value)

    def setMissingValue(self, value: str):
        """Sets the value of :py:attr:`missingValue`."""
        return self._set(missingValue=value)

    def setImputedCol(self, value: str):
        """Sets the value of :py:attr:`imputedCol`."""
        return self._set(imputedCol=value)

    def setWeightCol(self, value: str):
        """Sets the value of :py:attr:`weightCol`."""
        return self._set(weightCol=value)

    def setInitialModel(self, value):
        """Sets the value of :py:attr:`initialModel`."""
        return self._set(initialModel=value)

    def setKValues(self, value: list[int]):
        """Sets the value of :py:attr:`kValues`."""
        return self._set(kValues=value)

    def setCovarianceTypes(self, value: list[str]):
        """Sets the value of :py:attr:`covarianceTypes`."""
        return self._set(covarianceTypes=value)

    def setCriterion(self, value: str):
        """Sets the value of :py:attr:`criterion`."""
        return self._set(criterion=value)

    def setNFactors(self, value: int):
        """Sets the value of :py:attr:`nFactors`."""
        return self._set(nFactors=value)

    def setNFactorsValues(self, value: list[int]):
        """Sets the value of :py:attr:`nFactorsValues`."""
        return self._set(nFactorsValues=value)

    def _candidates(self) -> tuple[list[int], list[str], object]:
        """(the Ks, the covariance types, the start): the initial model's K and type, or the
        params'."""
        given = self.getInitialModel()
        if given is None:
            return self.getKValues(), self.getCovarianceTypes(), self.getInitMode()
        kind = given["covarianceType"]
        mixture = gaussian.Mixture(
            *(np.asarray(given[f], dtype=np.float64) for f in ("weights", "means", "covariances")),
            kind,
            np.asarray(given["loadings"], dtype=np.float64) if kind == "factor" else None,
        )
        k, kind = len(mixture.weights), mixture.covariance_type
        if any(self.isSet(p) for p in (self.kValues, self.covarianceTypes, self.nFactorsValues)):
            raise InputError(
                "initialModel fixes K, the covariance type and the factors: it cannot be set "
                "with kValues, covarianceTypes or nFactorsValues"
            )
        for name, value, wanted in (
            ("k", self.getK(), k),
            ("covarianceType", self.getCovarianceType(), kind),
            ("nFactors", self.getNFactors(), mixture.n_factors if kind == "factor" else None),
        ):
            if wanted is None:
                continue
            if self.isSet(getattr(self, name)) and value != wanted:
                raise InputError(f"{name}={value!r} differs from the initial model's {wanted!r}")
        return [k], [kind], mixture

    def _fit(self, dataset) -> GaussianMixtureModel:
        ks, kinds, init = self._candidates()
        blocks = read_dataframe(
            dataset,
            self.getFeaturesCol(),
            ratings=False,
            param="featuresCol",
            backend=self._backend_arg(),
            missing=self._missing_arg(),
            weights=self._weight_arg(),
        )
        try:
            runs = gaussian_model.fit_all(
                blocks,
                ks,
                [self.getSeed()],
                covariance_type=kinds,
                init=init,
                tol=self.getTol(),
                max_iter=self.getMaxIter(),
                reg_covar=self.getRegCovar(),
                n_init=self.getNInit(),
                n_factors=self.getNFactorsValues(),
            )
        finally:
            ops.release(blocks)
        run, candidates = gaussian_model.select_candidates(runs, self.getCriterion())
        summary = GaussianMixtureSummary(
            logLikelihoodHistory=[h.objective for h in run.history],
            numIter=run.n_iter,
            converged=run.converged,
            clusterSizes=run.cluster_sizes,
            logLikelihood=run.log_likelihood,
            numRows=run.n_rows,
            candidateRows=outputs.candidate_rows(candidates, run),
            criterion=self.getCriterion(),
        )
        warn_unconverged(self, summary)
        model = self._copyValues(GaussianMixtureModel(run.mixture, summary, rowsSeen=run.n_rows))
        model._remember_inputs(dataset)
        model._set(k=run.k, covarianceType=run.mixture.covariance_type)
        factored = run.mixture.covariance_type == "factor"
        return model._set(nFactors=run.mixture.n_factors) if factored else model


def _scorable(X: np.ndarray, d: int, marker: str) -> np.ndarray:
    """Rows a model of width ``d`` can score: that width, no infinite value, and NaN only when
    missing values are allowed (with missingValue="zero", a 0 is read as NaN)."""
    check_rows(X, d, nan=marker == "nan")
    return np.where(X == 0, np.nan, X) if marker == "zero" else X


class GaussianMixtureModel(FittedModel, _GaussianMixtureParams, HasStepParams):
    """A fitted mixture: ``weights``, ``means``, ``covariances``, ``summary``, ``bic``, ``aic``;
    ``transform`` adds the most probable component, the posterior probabilities and each
    row's log-likelihood; ``partialFit`` updates it with new rows (stepwise EM).

    Made by ``GaussianMixture.fit``, ``partialFit``, ``StreamingGaussianMixture`` or read by
    ``GaussianMixtureModel.load``; it has the estimator's params (``k`` and
    ``covarianceType`` those of the candidate chosen), and ``stepDecay`` / ``halfLife``,
    which ``partialFit`` follows when they are set.

    Parameters
    ----------
    mixture : kernels.gaussian.Mixture, optional
        The fitted weights, means, covariances and covariance type.
    summary : GaussianMixtureSummary, optional
        The summary of the fit (of a ``partialFit``: its one batch).
    rowsSeen : float, optional
        The rows (or the sum of their weights) the model has learnt from; by default the
        summary's ``numRows`` (0 without a summary).
    numUpdates : int, default 0
        The stepwise updates made since the last batch fit.

    Examples
    --------
    >>> import numpy as np
    >>> from pyspark.ml.linalg import Vectors
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal(c, 1.0, size=(100, 2)) for c in ([4, 0], [6, 6], [0, 4])])
    >>> df = spark.createDataFrame([(Vectors.dense(x),) for x in X], ["features"])
    >>> from spark_em.ml import GaussianMixture, GaussianMixtureModel
    >>> model = GaussianMixture(k=3, seed=1).fit(df)
    >>> model.weights, model.means, model.bic
    >>> model.predict([0.5, 4.0]), model.predictProbability([0.5, 4.0])
    >>> model.score(df)  # the mean log-likelihood per row
    >>> model.sample(5, seed=1).show()
    >>> model.write().overwrite().save("models/gmm")
    >>> GaussianMixtureModel.load("models/gmm").transform(df).select("prediction").show(3)
    >>> updated = model.partialFit(new_rows)  # the new rows added to the 300 fitted
    """

    summary_class = GaussianMixtureSummary
    key_params = ("k", "covarianceType")

    def _repr_params(self) -> tuple[str, ...]:
        factored = self.getOrDefault("covarianceType") == "factor"
        return (*self.key_params, "nFactors") if factored else self.key_params

    def __init__(
        self,
        mixture: gaussian.Mixture | None = None,
        summary: GaussianMixtureSummary | None = None,
        rowsSeen: float | None = None,
        numUpdates: int = 0,
    ):
        super().__init__(summary)
        self._mixture = mixture
        self._rows_seen = None if rowsSeen is None else float(rowsSeen)
        self._updates = int(numUpdates)

    @property
    def rowsSeen(self) -> float:
        """The rows (or the sum of their weights) the model has learnt from: those of its
        batch fit and of every ``partialFit`` since."""
        if self._rows_seen is not None:
            return self._rows_seen
        return float(self.summary.numRows) if self.hasSummary else 0.0

    @property
    def numUpdates(self) -> int:
        """The stepwise updates (``partialFit``, streaming micro-batches) made since the
        model's batch fit: the t of the step (t + 2)^(−stepDecay)."""
        return self._updates

    def partialFit(self, dataset, stepSize: float | None = None) -> GaussianMixtureModel:
        """A new model after one stepwise EM update with the rows of ``dataset``
        (``kernels.stepwise``): the statistics of its rows under this model, s_b, enter the
        model's own, s ← (1 − η) s + η s_b, and the parameters are their M-step. One pass
        over ``dataset``, nothing cached.

        The step η is ``stepSize`` when given. Otherwise it follows the model's params: with
        ``halfLife`` h, 1 − 2^(−n_b / h); with ``stepDecay`` α, (t + 2)^(−α) after t =
        ``numUpdates`` updates; with neither, n_b / (n + n_b) with n = ``rowsSeen``, so that
        the batch counts as much as the rows the model was fitted on. ``stepSize=1`` replaces
        the model's statistics by the batch's: exactly one batch EM iteration from this
        model on ``dataset``.

        Parameters
        ----------
        dataset : pyspark.sql.DataFrame
            New rows in ``featuresCol`` (and their weights in ``weightCol`` when it is set;
            missing values as ``missingValue`` allows).
        stepSize : float, optional
            η in (0, 1].

        Returns
        -------
        GaussianMixtureModel
            A new model, with this one's params (this one is unchanged); its summary
            describes the batch (its
            log-likelihood under this model, rows and soft cluster sizes), ``rowsSeen`` adds
            the batch's rows and ``numUpdates`` is one more.

        Examples
        --------
        >>> model = GaussianMixture(k=3).fit(df)
        >>> model = model.partialFit(new_rows)  # the new rows as one more share of the data
        >>> model = model.setHalfLife(50_000).partialFit(todays_rows)  # old rows fade
        """
        updated = self._updated(dataset, stepSize)
        if updated is None:
            raise InputError("the batch has no rows to learn from (or their weights sum to 0)")
        return updated

    def _updated(self, dataset, stepSize: float | None = None) -> GaussianMixtureModel | None:
        """``partialFit``'s model, or None when ``dataset`` has no rows (nothing to learn)."""
        if stepSize is not None and not 0.0 < float(stepSize) <= 1.0:
            raise InputError(f"stepSize must be in (0, 1], got {stepSize}")
        if self._mixture.covariance_type == "factor":
            raise InputError(
                "a mixture of factor analysers (covarianceType factor) is not updated "
                "stepwise: refit it, or start a fit from it with initialModel"
            )
        total = self._batch_stats(dataset)
        if total is None:
            return None
        n_batch = float(total.n_rows)
        try:
            step = (
                float(stepSize)
                if stepSize is not None
                else stepwise.step_size(
                    n_batch, self.numUpdates, self.rowsSeen, self.getStepDecay(), self.getHalfLife()
                )
            )
        except ValueError as exc:
            raise InputError(str(exc)) from None
        mixture = stepwise.update(total, self._mixture, step, self.getRegCovar())
        gaussian_model.prepared(mixture)  # a covariance no longer positive definite stops here
        ll = float(total.log_likelihood)
        summary = GaussianMixtureSummary(
            logLikelihoodHistory=[ll],
            numIter=1,
            converged=False,
            clusterSizes=np.asarray(total.resp, dtype=np.float64).tolist(),
            logLikelihood=ll,
            numRows=n_batch,
            criterion=self.getCriterion(),
        )
        model = self._copyValues(
            GaussianMixtureModel(mixture, summary, self.rowsSeen + n_batch, self.numUpdates + 1)
        )
        model._input_columns = self._input_columns
        return model

    def _batch_stats(self, dataset) -> gaussian.GaussianStats | None:
        """The summed statistics of ``dataset``'s rows under this model (one pass), or None
        when it has no rows with a positive weight."""
        d = self.means.shape[1]

        def stats_of(values, prepared, weights=None):
            if values.shape[1] != d:
                raise InputError(
                    f"the features have {values.shape[1]} values a row; the model was fitted on {d}"
                )
            return missing.block_stats(values, prepared, weights)

        total, _ = aggregate_dataframe(
            dataset,
            self.getFeaturesCol(),
            stats_of,
            add_fields,
            gaussian_model.prepared(self._mixture),
            missing=self._missing_arg(),
            weights=self._weight_arg(),
            param="featuresCol",
        )
        return total if total is not None and total.n_rows > 0 else None

    @property
    def weights(self) -> np.ndarray:
        """Each component's weight (K, summing to 1)."""
        return self._mixture.weights

    @property
    def means(self) -> np.ndarray:
        """Each component's mean (K × d)."""
        return self._mixture.means

    @property
    def covariances(self) -> np.ndarray:
        """The covariances, shaped by ``covarianceType`` as scikit-learn's: full K × d × d,
        tied d × d, diag K × d, spherical K (``gaussiansDF`` has each as a d × d matrix);
        factor K × d × d, each Λ_k Λ_kᵀ + Ψ_k formed (``loadings``, ``noiseVariances``)."""
        if self._mixture.covariance_type == "factor":
            return outputs.full_covariances(self._mixture)
        return self._mixture.covariances

    @property
    def loadings(self) -> np.ndarray | None:
        """Λ, each component's factor loadings (K × d × q) when ``covarianceType`` is
        ``factor`` (as scikit-learn's ``FactorAnalysis.components_``, transposed); else
        None."""
        return self._mixture.loadings

    @property
    def noiseVariances(self) -> np.ndarray | None:
        """Ψ, each component's noise variances (K × d) when ``covarianceType`` is
        ``factor`` (scikit-learn's ``FactorAnalysis.noise_variance_``); else None."""
        factored = self._mixture.covariance_type == "factor"
        return self._mixture.covariances if factored else None

    @property
    def bic(self) -> float:
        """BIC on the training data as scikit-learn's ``GaussianMixture.bic(X)``:
        −2·LL + p·log n, n the rows (or the sum of the weights); lower is better."""
        k, d = self.means.shape
        return gaussian.bic(
            self.summary.logLikelihood,
            k,
            d,
            self.summary.numRows,
            self._mixture.covariance_type,
            self._mixture.n_factors,
        )

    @property
    def aic(self) -> float:
        """AIC on the training data as scikit-learn's ``aic(X)``: −2·LL + 2p; lower is better."""
        k, d = self.means.shape
        return gaussian.aic(
            self.summary.logLikelihood,
            k,
            d,
            self._mixture.covariance_type,
            self._mixture.n_factors,
        )

    @property
    def gaussiansDF(self):
        """A DataFrame with one row per component: ``mean`` (a vector) and ``cov`` (a dense
        d×d matrix, whatever the covariance type), as MLlib's model has it."""
        from pyspark.sql import SparkSession

        covariances = outputs.full_covariances(self._mixture)
        d = self.means.shape[1]
        rows = [
            (DenseVector(m), DenseMatrix(d, d, c.ravel(order="F").tolist()))
            for m, c in zip(self.means, covariances)
        ]
        return SparkSession.active().createDataFrame(rows, ["mean", "cov"])

    def predictProbability(self, value) -> DenseVector:
        """The posterior probability of each component for one row (a vector or a list).

        Parameters
        ----------
        value : pyspark.ml.linalg.Vector or array_like
            One row of d values (NaN where one is missing, when ``missingValue`` allows).

        Returns
        -------
        pyspark.ml.linalg.DenseVector
            The K probabilities.
        """
        return DenseVector(self._posterior_of(value)[0][0])

    def predict(self, value) -> int:
        """The most probable component of one row (a vector or a list).

        Parameters
        ----------
        value : pyspark.ml.linalg.Vector or array_like
            One row of d values (NaN where one is missing, when ``missingValue`` allows).

        Returns
        -------
        int
            The component's index, from 0.
        """
        return int(np.argmax(self._posterior_of(value)[0][0]))

    def _posterior_of(self, value):
        X = self._checked_rows(
            np.asarray(getattr(value, "toArray", lambda: value)(), dtype=np.float64).reshape(1, -1)
        )
        return missing.posterior(X, gaussian.prepare(self._mixture))

    def _checked_rows(self, X: np.ndarray) -> np.ndarray:
        return _scorable(X, self.means.shape[1], self.getMissingValue())

    def sample(self, n: int, seed: int = 0):
        """A DataFrame of ``n`` rows drawn from the mixture: ``featuresCol`` (vectors) and
        ``component`` (the component each came from). Drawn on the executors; row i is the
        same for any partitioning (and for any n > i).

        Parameters
        ----------
        n : int
            How many rows (>= 1).
        seed : int, default 0
            The draws' seed.

        Returns
        -------
        pyspark.sql.DataFrame
            ``n`` rows: the features (a vector, in the column ``featuresCol`` names) and
            ``component`` (int).
        """
        import pyarrow as pa
        from pyspark.sql import SparkSession

        from spark_em.ml.columns import arrow_column

        if int(n) < 1:
            raise InputError(f"{{param}} must be >= 1, got {n}", param="n")
        mixture, column = self._mixture, self.getFeaturesCol()
        vector, label, number = VectorUDT(), IntegerType(), DoubleType()
        # the layout of the features the model was fitted on: a vector column, or a number
        # column per feature
        wide = isinstance(column, list)
        fields = (
            [StructField(name, number) for name in column]
            if wide
            else [StructField(column, vector)]
        )

        def draw(batches):
            for batch in batches:
                rows = batch.column(0).to_numpy()
                X, labels = outputs.sample_rows(mixture, rows, seed)
                present = np.ones(len(rows), dtype=bool)
                features = (
                    [arrow_column(X[:, j], present, number) for j in range(X.shape[1])]
                    if wide
                    else [arrow_column(X, present, vector)]
                )
                yield pa.RecordBatch.from_arrays(
                    [*features, arrow_column(labels, present, label)],
                    names=[f.name for f in fields] + ["component"],
                )

        from pyspark.sql.types import StructType

        schema = StructType([*fields, StructField("component", label)])
        return SparkSession.active().range(int(n)).mapInArrow(draw, schema)

    def evaluate(self, dataset) -> dict:
        """The model on other data (``featuresCol``, and ``weightCol`` if set): total and mean
        log-likelihood, rows, the sum of the weights, and ``bic``, ``aic`` on that data
        (scikit-learn's convention, lower is better) and ``courseBic`` (higher is better).

        Parameters
        ----------
        dataset : pyspark.sql.DataFrame
            Rows of the width the model was fitted on, in ``featuresCol`` (and weights in
            ``weightCol``, when it is set and present).

        Returns
        -------
        dict
            ``logLikelihood``, ``meanLogLikelihood`` (per row, or per unit of weight),
            ``numRows``, ``weightSum``, ``numParams``, ``bic``, ``aic`` and ``courseBic``.
        """
        weight = self._weight_arg()
        blocks = read_dataframe(
            dataset,
            self.getFeaturesCol(),
            ratings=False,
            param="featuresCol",
            missing=self._missing_arg(),
            weights=weight if weight in dataset.columns else None,
        )
        try:
            self._check_width(blocks)
            return outputs.held_out(blocks, self._mixture)
        finally:
            ops.release(blocks)

    def score(self, dataset) -> float:
        """The mean log-likelihood per row of ``dataset`` (scikit-learn's ``score``).

        Parameters
        ----------
        dataset : pyspark.sql.DataFrame
            Rows as ``evaluate`` takes them.

        Returns
        -------
        float
            ``evaluate(dataset)["meanLogLikelihood"]``.
        """
        return self.evaluate(dataset)["meanLogLikelihood"]

    def _check_width(self, blocks) -> None:
        width = ops.shapes(blocks)[0][2]
        if width != self.means.shape[1]:
            raise InputError(
                f"the features have {width} values a row; the model was fitted "
                f"on {self.means.shape[1]}"
            )

    def _outputs(self):
        prepared = gaussian.prepare(self._mixture)
        marker = self.getMissingValue()
        d = self.means.shape[1]

        def compute(X):
            resp, row_ll, imputed = missing.posterior(_scorable(X, d, marker), prepared)
            columns = (resp.argmax(axis=1), resp, row_ll)
            return columns if marker == "none" else (*columns, imputed)

        fields = [
            StructField(self.getPredictionCol(), IntegerType()),
            StructField(self.getProbabilityCol(), VectorUDT()),
            StructField(self.getLogLikelihoodCol(), DoubleType()),
        ]
        if marker != "none":
            fields.append(StructField(self.getImputedCol(), VectorUDT()))
        return fields, compute

    def _example_rows(self) -> np.ndarray:
        return self.means

    def _arrays(self) -> dict:
        arrays = {
            "weights": self.weights,
            "means": self.means,
            "covariances": self._mixture.covariances,
        }
        if self._mixture.covariance_type == "factor":
            arrays["loadings"] = self._mixture.loadings
        return arrays

    def _extra(self) -> dict:
        return {
            "covarianceType": self._mixture.covariance_type,
            "rowsSeen": self._rows_seen,
            "numUpdates": self._updates,
        }

    @classmethod
    def _from_saved(cls, arrays: dict, extra: dict) -> GaussianMixtureModel:
        try:
            kind = gaussian.check_type(extra["covarianceType"])
            mixture = gaussian_model.check_given(
                gaussian.Mixture(
                    arrays["weights"],
                    arrays["means"],
                    arrays["covariances"],
                    kind,
                    arrays["loadings"] if kind == "factor" else None,
                ),
                len(arrays["weights"]),
                arrays["means"].shape[1],
                kind,
            )
            rows_seen, updates = extra.get("rowsSeen"), int(extra.get("numUpdates", 0))
        except (KeyError, ValueError, IndexError, TypeError) as exc:
            raise InputError(f"the saved model is incomplete or inconsistent ({exc})") from None
        return cls(mixture, rowsSeen=rows_seen, numUpdates=updates)
