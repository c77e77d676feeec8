"""The spark.ml-style mixture of linear regressions: ``MixtureOfRegressions`` and its model."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import pandas as pd
from pyspark import keyword_only
from pyspark.ml import Estimator
from pyspark.ml.linalg import VectorUDT
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.ml.param.shared import HasPredictionCol, HasProbabilityCol, HasSeed
from pyspark.sql.types import DoubleType, IntegerType, NumericType, StructField

from spark_em.engine import ops
from spark_em.errors import InputError
from spark_em.io.table import from_dataframe
from spark_em.kernels import mixreg
from spark_em.kernels.mixreg import RegressionMixture
from spark_em.ml.columns import check_rows, with_columns
from spark_em.ml.fitted import FittedModel
from spark_em.ml.params import (
    HasBackend,
    HasFeaturesCol,
    HasIterationParams,
    HasRegressionParams,
    HasVerbose,
    MixtureSetters,
    RegressionSetters,
    column_names,
    given,
    gt,
    gt_eq,
    in_array,
)
from spark_em.ml.persistence import DefaultParamsReadable, ParamsWritable
from spark_em.ml.summary import TrainingSummary, warn_unconverged
from spark_em.ml.tracking import Tracked
from spark_em.models import codec
from spark_em.models import mixreg as mixreg_model


def _as_start(value):
    """``initialModel``'s converter: a fitted model or a dict of weights, intercepts,
    coefficients and sigmas, as a dict of arrays."""
    if value is None:
        return None
    if isinstance(value, MixtureOfRegressionsModel):
        model = value
        value = {
            "weights": model.weights,
            "intercepts": model.intercepts,
            "coefficients": model.coefficients,
            "sigmas": model.sigmas,
        }
        if model._mixture.gate is not None:
            value["gateIntercepts"] = model.gateIntercepts
            value["gateCoefficients"] = model.gateCoefficients
    if not isinstance(value, dict) or not {"weights", "coefficients", "sigmas"} <= set(value):
        raise TypeError(
            "initialModel must be a MixtureOfRegressionsModel or a dict of weights, "
            "intercepts, coefficients (k × p) and sigmas"
        )
    out = {name: np.asarray(value[name], dtype=np.float64) for name in value}
    k = len(out["weights"])
    if out["coefficients"].ndim != 2 or out["coefficients"].shape[0] != k:
        raise TypeError(f"initialModel's coefficients must be {k} × p")
    if out["sigmas"].shape != (k,) or not np.all(out["sigmas"] > 0):
        raise TypeError(f"initialModel's sigmas must be {k} numbers > 0")
    if "intercepts" in out and out["intercepts"].shape != (k,):
        raise TypeError(f"initialModel's intercepts must be {k} numbers")
    gate = out.get("gateCoefficients")
    if gate is not None and (gate.ndim != 2 or gate.shape[0] != k):
        raise TypeError(f"initialModel's gateCoefficients must be {k} × m")
    if "gateIntercepts" in out and out["gateIntercepts"].shape != (k,):
        raise TypeError(f"initialModel's gateIntercepts must be {k} numbers")
    return {name: array.tolist() for name, array in out.items()}  # as JSON: saved with params


def _to_gate(value):
    """``gateCol``'s converter: a column name or a non-empty list of column names."""
    return column_names(value, "gateCol")


class _MixtureOfRegressionsParams(
    HasFeaturesCol,
    HasPredictionCol,
    HasProbabilityCol,
    HasSeed,
    HasIterationParams,
    HasRegressionParams,
):
    k = Param(Params._dummy(), "k", "number of components (> 0)", gt("k", 0, TypeConverters.toInt))
    nInit = Param(
        Params._dummy(),
        "nInit",
        "starts (seeds seed, seed+1, …; see initMode); the best log-likelihood is kept",
        gt_eq("nInit", 1, TypeConverters.toInt),
    )
    initMode = Param(
        Params._dummy(),
        "initMode",
        "where each start comes from: 'random' (a random partition of the rows) or 'kmeans' "
        "(the K-means clusters of (label, features), k-means++ seeded)",
        in_array("initMode", mixreg_model.INIT_MODES),
    )
    initialModel = Param(
        Params._dummy(),
        "initialModel",
        "where EM starts: a fitted MixtureOfRegressionsModel or a dict of weights, intercepts, "
        "coefficients (k × p) and sigmas",
        _as_start,
    )
    gateCol = Param(
        Params._dummy(),
        "gateCol",
        "covariates of the weights (concomitant variables), through a multinomial logit: a "
        "column of vectors or arrays, or a list of numeric columns; unset: constant weights",
        _to_gate,
    )
    componentPredictionsCol = Param(
        Params._dummy(),
        "componentPredictionsCol",
        "column for each component's prediction (a vector)",
        TypeConverters.toString,
    )
    componentCol = Param(
        Params._dummy(),
        "componentCol",
        "column for the most probable component given features and label",
        TypeConverters.toString,
    )

    def __init__(self, *args):
        super().__init__(*args)
        self._setDefault(
            k=2,
            nInit=5,
            initMode="random",
            maxIter=100,
            tol=1e-6,
            seed=0,
            componentPredictionsCol="componentPredictions",
            componentCol="component",
        )

    def getK(self) -> int:
        """Gets the value of k or its default value."""
        return self.getOrDefault(self.k)

    def getNInit(self) -> int:
        """Gets the value of nInit or its default value."""
        return self.getOrDefault(self.nInit)

    def getInitMode(self) -> str:
        """Gets the value of initMode or its default value."""
        return self.getOrDefault(self.initMode)

    def getInitialModel(self) -> dict | None:
        """Gets the value of :py:attr:`initialModel`, or None when it is not set.

        Returns
        -------
        dict or None
            The start's weights, intercepts, coefficients and sigmas (and the gate's) as
            lists.
        """
        return self.getOrDefault(self.initialModel) if self.isDefined(self.initialModel) else None

    def getGateCol(self) -> str | list[str] | None:
        """Gets the value of :py:attr:`gateCol`, or None when it is not set.

        Returns
        -------
        str, list of str or None
            The gate's covariates' column(s).
        """
        return self.getOrDefault(self.gateCol) if self.isDefined(self.gateCol) else None

    def setGateCol(self, value):
        """Sets the value of :py:attr:`gateCol`: for a model, the columns ``transform`` reads
        the gate's covariates from.

        Parameters
        ----------
        value : str or list of str
            A column of vectors or arrays, or numeric columns.

        Returns
        -------
        self
        """
        return self._set(gateCol=value)

    def getComponentPredictionsCol(self) -> str:
        """Gets the value of componentPredictionsCol or its default value."""
        return self.getOrDefault(self.componentPredictionsCol)

    def getComponentCol(self) -> str:
        """Gets the value of componentCol or its default value."""
        return self.getOrDefault(self.componentCol)


class MixtureOfRegressions(
    Tracked,
    HasVerbose,
    Estimator,
    _MixtureOfRegressionsParams,
    HasBackend,
    MixtureSetters,
    RegressionSetters,
    DefaultParamsReadable,
    ParamsWritable,
):
    """EM for a finite mixture of linear regressions (clusterwise regression): each row's
    label comes from one of ``k`` linear models y = xβ_k + ε, ε ~ N(0, σ_k²), chosen with
    probability π_k, the model of R's flexmix and mixtools' ``regmixEM``.

    The E-step is in the log domain; the M-step solves each component's weighted least
    squares (weights: row weight × responsibility) by the same one-pass TSQR as
    ``WeightedLinearRegression``'s ``qr`` solver, so an ill-conditioned design keeps its
    digits; σ_k is the weighted residual RMS, floored at 1e-3 times the label's standard
    deviation. A component that holds fewer effective rows than coefficients stops a start
    with one line naming it; the fit keeps the best of the ``nInit`` starts that succeed, each
    from a random partition of the rows or from K-means clusters (``initMode``).

    Parameters
    ----------
    k : int, default 2
        Components (> 0).
    featuresCol : str or list of str, default "features"
        A column of vectors or numeric arrays, or numeric columns (one feature each).
    labelCol : str, default "label"
        The label column.
    weightCol : str, optional
        Each row's weight (finite, >= 0); unset: every row weighs 1.
    fitIntercept : bool, default True
        Whether each component has an intercept.
    maxIter : int, default 100
        Iterations per start (>= 1); a fit stopped there warns (``ConvergenceWarning``).
    tol : float, default 1e-6
        EM stops when the log-likelihood changes by at most ``tol`` relative to its value.
    nInit : int, default 5
        Starts (seeds seed, seed+1, …); the best log-likelihood is kept.
    initMode : {"random", "kmeans"}, default "random"
        Each start's M-step from a random partition of the rows (hashed on the row index, so
        independent of the partitioning), or from K-means (k-means++ seeded) on the label
        and features, each row wholly in its cluster. K-means works in the columns' own
        units: scale features whose units differ much.
    seed : int, default 0
        Random seed of the first start.
    regParam : float, default 0.0
        Ridge λ of every component's features (the intercept is not penalised).
    initialModel : MixtureOfRegressionsModel or dict, optional
        Where EM starts instead (``nInit`` is then 1): weights (k), intercepts (k),
        coefficients (k × p), sigmas (k) and, with a gate, gateIntercepts (k) and
        gateCoefficients (k × m) (else the gate starts at the weights).
    gateCol : str or list of str, optional
        Concomitant variables, as flexmix's ``concomitant``: each row's weights follow its
        m covariates z through a multinomial logit, π_k(z) ∝ exp(γ_k0 + z γ_k), with the first
        component the reference (γ_0 = 0). A column of vectors or arrays, or numeric
        columns. The gate is fitted in every M-step by one Newton step on the distributed
        gradient and Hessian of its part of the expected log-likelihood.
    predictionCol : str, default "prediction"
        The mixture mean Σ_k π_k x β_k (with a gate, π_k(z) of the row).
    componentPredictionsCol : str, default "componentPredictions"
        Each component's prediction x β_k (a vector).
    probabilityCol : str, default "probability"
        When the label column is present, each component's posterior given x and y (NaN
        for a row whose label is null).
    componentCol : str, default "component"
        When the label column is present, the most probable component (−1 for a row whose
        label is null).
    backend : {"auto", "rdd", "dataframe"}, default "auto"
        Where ``fit`` keeps the data.
    verbose : bool, default False
        Log one line per iteration to the ``spark_em`` logger.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = rng.uniform(0, 10, 2000)
    >>> regime = rng.random(2000) < 0.4
    >>> y = np.where(regime, 1 + 2 * x, 20 - x) + rng.normal(0, 0.5, 2000)
    >>> df = spark.createDataFrame([([float(a)], float(b)) for a, b in zip(x, y)],
    ...                            "features array<double>, label double")
    >>> from spark_em.ml import MixtureOfRegressions
    >>> model = MixtureOfRegressions(k=2, seed=1).fit(df)
    >>> model.weights, model.intercepts, model.coefficients, model.sigmas
    >>> model.transform(df).select("prediction", "probability", "component").show(3)
    """

    @keyword_only
    def __init__(
        self,
        *,
        k=2,
        featuresCol="features",
        labelCol="label",
        weightCol=None,
        fitIntercept=True,
        maxIter=100,
        tol=1e-6,
        nInit=5,
        initMode="random",
        seed=0,
        regParam=0.0,
        initialModel=None,
        gateCol=None,
        predictionCol="prediction",
        componentPredictionsCol="componentPredictions",
        probabilityCol="probability",
        componentCol="component",
        backend="auto",
        verbose=False,
    ):
        super().__init__()
        self._set(**given(self._input_kwargs))

    def setNInit(self, value: int):
        """Sets the value of :py:attr:`nInit`."""
        return self._set(nInit=value)

    def setInitMode(self, value: str):
        """Sets the value of :py:attr:`initMode`."""
        return self._set(initMode=value)

    def setInitialModel(self, value):
        """Sets the value of :py:attr:`initialModel`."""
        return self._set(initialModel=value)

    def _start(self, p: int, gates: int) -> RegressionMixture | None:
        given_start = self.getInitialModel()
        if given_start is None:
            return None
        given_start = {name: np.asarray(v, dtype=np.float64) for name, v in given_start.items()}
        k, coefficients = len(given_start["weights"]), given_start["coefficients"]
        if self.isSet(self.k) and self.getK() != k:
            raise InputError(f"k={self.getK()} differs from the initial model's {k}")
        if coefficients.shape[1] != p:
            raise InputError(
                f"the initial model has {coefficients.shape[1]} features, the data {p}"
            )
        if self.getFitIntercept():
            intercepts = given_start.get("intercepts", np.zeros(k))
            coefficients = np.column_stack([intercepts, coefficients])
        start = RegressionMixture(given_start["weights"], coefficients, given_start["sigmas"])
        slopes = given_start.get("gateCoefficients")
        if slopes is None and "gateIntercepts" not in given_start:
            return start
        if gates == 0:
            raise InputError("the initial model has a gate: set gateCol to its covariates")
        slopes = np.zeros((k, gates)) if slopes is None else slopes
        if slopes.shape[1] != gates:
            raise InputError(
                f"the initial model's gate has {slopes.shape[1]} covariates, the data {gates}"
            )
        gate = np.column_stack([given_start.get("gateIntercepts", np.zeros(k)), slopes])
        return start._replace(gate=gate - gate[0])  # the same weights, the first row 0

    def _fit(self, dataset) -> MixtureOfRegressionsModel:
        data = from_dataframe(
            dataset,
            self.getLabelCol(),
            self.getWeightCol(),
            self.getFeaturesCol(),
            backend=self._backend_arg(),
            param="featuresCol",
            gate=self.getGateCol(),
        )
        intercept, reg = self.getFitIntercept(), self.getRegParam()
        gates = len(data.gate_names)
        try:
            start = self._start(len(data.feature_names), gates)
            if start is not None:
                try:
                    run = mixreg_model.fit_from(
                        data.blocks,
                        start,
                        intercept,
                        reg,
                        self.getTol(),
                        self.getMaxIter(),
                        gates=gates,
                    )
                except ValueError as exc:
                    raise InputError(str(exc)) from None
            else:
                first = self.getSeed()
                run = mixreg_model.fit(
                    data.blocks,
                    self.getK(),
                    range(first, first + self.getNInit()),
                    intercept,
                    reg,
                    self.getTol(),
                    self.getMaxIter(),
                    self.getInitMode(),
                    gates,
                )
            n = float(ops.summarize(data.blocks).n_effective)
            errors, problem = mixreg_model.inference(
                data.blocks, run.mixture, intercept, reg, gates
            )
        finally:
            ops.release(data.blocks)
        summary = MixtureOfRegressionsSummary(
            logLikelihood=run.log_likelihood,
            logLikelihoodHistory=[h.objective for h in run.history],
            numIter=run.n_iter,
            converged=run.converged,
            numRows=n,
            featureNames=list(data.feature_names),
            gateNames=list(data.gate_names),
            fitIntercept=intercept,
            estimates=codec.encode_mixreg(run.mixture),
            standardErrors=errors,
            inferenceProblem=problem,
        )
        warn_unconverged(self, summary)
        model = self._copyValues(MixtureOfRegressionsModel(run.mixture, intercept, summary))
        model._remember_inputs(dataset)
        gate = self.getGateCol()
        model._gate_vector = isinstance(gate, str) and not isinstance(
            dataset.schema[gate].dataType, NumericType
        )
        return model


@dataclass(kw_only=True, repr=False)
class MixtureOfRegressionsSummary(TrainingSummary):
    """A fit's report: the log-likelihood after every iteration, the last one, iterations,
    convergence and the rows (the sum of their weights); and the standard errors of every
    parameter from the observed information of the mixture's log-likelihood at the optimum
    (one more pass; they include the uncertainty of the memberships, which the components'
    own least-squares errors leave out), with z values, p-values and intervals, and
    ``table()``: one table per component in the style of the least-squares summary.

    Attributes
    ----------
    logLikelihood : float
        The training rows' log-likelihood under the model, at its last E-step.
    logLikelihoodHistory : list of float
        The log-likelihood after every iteration of the start kept.
    numRows : float
        The rows fitted (the sum of their weights).
    featureNames : list of str
        The features' names, in the coefficients' order.
    gateNames : list of str
        The gate's covariates' names (empty without a gate).
    fitIntercept : bool
        Whether the coefficients start with the intercept.
    estimates : dict
        The fitted weights, coefficients (the intercept first), sigmas and, with a gate,
        gate (k × (1 + m), its intercepts first, the first row 0), as lists.
    standardErrors : dict or None
        Their standard errors, as lists (the properties below give them as arrays).
    inferenceProblem : str or None
        Why there are no standard errors (a ridge fit, or an information matrix that is not
        positive definite), or None.
    numIter : int
        The iterations the start kept made.
    converged : bool
        Whether its stopping rule was met.

    Examples
    --------
    >>> summary = MixtureOfRegressions(k=2).fit(df).summary
    >>> summary.logLikelihood, summary.numIter, summary.converged
    >>> summary.coefficientStandardErrors, summary.pValues
    >>> print(summary.table())
    """

    objective: ClassVar[str] = "logLikelihood"

    logLikelihood: float
    logLikelihoodHistory: list[float]
    numRows: float
    featureNames: list[str] = field(default_factory=list)
    gateNames: list[str] = field(default_factory=list)
    fitIntercept: bool = True
    estimates: dict | None = None  # weights, coefficients (with the intercept), sigmas
    standardErrors: dict | None = None  # of the same, as lists
    inferenceProblem: str | None = None

    def _errors(self, name: str) -> np.ndarray:
        if self.standardErrors is None:
            raise InputError(f"no standard errors: {self.inferenceProblem}")
        return np.asarray(self.standardErrors[name], dtype=np.float64)

    @property
    def coefficientStandardErrors(self) -> np.ndarray:
        """The features' coefficients' standard errors (k × p)."""
        errors = self._errors("coefficients")
        return errors[:, 1:] if self.fitIntercept else errors

    @property
    def interceptStandardErrors(self) -> np.ndarray:
        """The intercepts' standard errors (k; an ``InputError`` without an intercept)."""
        if not self.fitIntercept:
            raise InputError("the fit has no intercepts (fitIntercept=False)")
        return self._errors("coefficients")[:, 0]

    @property
    def sigmaStandardErrors(self) -> np.ndarray:
        """The residual standard deviations' standard errors (k)."""
        return self._errors("sigmas")

    @property
    def weightStandardErrors(self) -> np.ndarray:
        """The component weights' standard errors (k; an ``InputError`` with a gate, whose
        weights vary by row: see ``gateStandardErrors``)."""
        if self.gateNames:
            raise InputError("a fit with a gate has no weights of its own: see gateStandardErrors")
        return self._errors("weights")

    @property
    def gateStandardErrors(self) -> np.ndarray:
        """The gate's coefficients' standard errors, k × (1 + m), its intercepts first; the
        first component's row, the reference, is 0 (an ``InputError`` without a gate)."""
        if not self.gateNames:
            raise InputError("the fit has no gate (gateCol was not set)")
        return self._errors("gate")

    @property
    def gatePValues(self) -> np.ndarray:
        """Two-sided p-values of the gate's coefficients, k × (1 + m) (NaN on the
        reference's row)."""
        if not self.gateNames:
            raise InputError("the fit has no gate (gateCol was not set)")
        return np.asarray(self._tests()["gate_p_values"])

    @property
    def zValues(self) -> np.ndarray:
        """Each component's coefficient / standard error, the intercept first when there is
        one (k × q)."""
        return np.asarray(self._tests()["z_values"])

    @property
    def pValues(self) -> np.ndarray:
        """Two-sided p-values of the z values (k × q), from the normal distribution."""
        return np.asarray(self._tests()["p_values"])

    def confidenceIntervals(self, alpha: float = 0.05) -> np.ndarray:
        """Each coefficient's (1 − ``alpha``) interval, the intercept first when there is
        one (k × q × 2: lower, upper).

        Parameters
        ----------
        alpha : float, default 0.05
            1 − the intervals' coverage.

        Returns
        -------
        numpy.ndarray
            The intervals.
        """
        return np.asarray(self._tests(alpha)["confidence_intervals"])

    def _tests(self, alpha: float = 0.05) -> dict:
        self._errors("coefficients")  # an InputError when there are none
        return mixreg_model.z_tests(self.estimates, self.standardErrors, alpha)

    def table(self, alpha: float = 0.05) -> str:
        """One table per component: coefficient, standard error, z, P>|z| and the
        (1 − ``alpha``) interval of each term, after the component's weight and σ.

        Parameters
        ----------
        alpha : float, default 0.05
            1 − the intervals' coverage.

        Returns
        -------
        str
            The tables, for printing.
        """
        self._errors("coefficients")  # an InputError when there are none
        names = (["intercept"] if self.fitIntercept else []) + list(self.featureNames)
        return mixreg_model.table(
            self.estimates, self.standardErrors, names, alpha, list(self.gateNames)
        )


class MixtureOfRegressionsModel(FittedModel, _MixtureOfRegressionsParams):
    """A fitted mixture of linear regressions: ``weights``, ``intercepts``, ``coefficients``
    (k × p), ``sigmas``, ``bic``, ``aic``; ``transform`` adds the mixture's prediction, each
    component's, and, when the label column is present, each component's posterior and the
    most probable one; ``predict`` scores one row.

    Made by ``MixtureOfRegressions.fit`` or read by ``MixtureOfRegressionsModel.load``.

    Parameters
    ----------
    mixture : kernels.mixreg.RegressionMixture, optional
        The weights, coefficients (the intercept first when ``intercept``), sigmas and, for
        weights that depend on covariates, the gate.
    intercept : bool, default True
        Whether the coefficients start with the intercept.
    summary : MixtureOfRegressionsSummary, optional
        The summary of the fit.

    Examples
    --------
    >>> from spark_em.ml import MixtureOfRegressions, MixtureOfRegressionsModel
    >>> model = MixtureOfRegressions(k=2, seed=1).fit(df)  # df: the estimator's example
    >>> model.transform(df).select("label", "prediction", "component").show(3)
    >>> model.predict([4.0])
    >>> model.write().overwrite().save("models/mixreg")
    >>> MixtureOfRegressionsModel.load("models/mixreg").coefficients
    """

    summary_class = MixtureOfRegressionsSummary
    key_params = ("k", "fitIntercept", "regParam", "gateCol")

    def __init__(
        self,
        mixture: RegressionMixture | None = None,
        intercept: bool = True,
        summary: MixtureOfRegressionsSummary | None = None,
    ):
        super().__init__(summary)
        self._mixture = mixture
        self._intercept = bool(intercept)
        self._gate_vector = False  # whether gateCol is one column of vectors or arrays

    @property
    def _gates(self) -> int:
        gate = self._mixture.gate
        return 0 if gate is None else gate.shape[1] - 1

    @property
    def weights(self) -> np.ndarray:
        """Each component's weight π_k (k); with a gate, the mean of the rows'
        responsibilities at the last E-step, which at convergence is the mean of their
        weights π_k(z)."""
        return self._mixture.weights

    @property
    def gateIntercepts(self) -> np.ndarray:
        """The gate's intercepts γ_k0 (k; the first, the reference's, is 0), the log-odds of
        each component against the first at z = 0. An ``InputError`` without a gate."""
        return self._gate()[:, 0].copy()

    @property
    def gateCoefficients(self) -> np.ndarray:
        """The gate's coefficients γ_k (k × m; the first row, the reference's, is 0): how
        each covariate moves the log-odds of component k against the first. An
        ``InputError`` without a gate."""
        return self._gate()[:, 1:].copy()

    def _gate(self) -> np.ndarray:
        if self._mixture.gate is None:
            raise InputError("the model has no gate (gateCol was not set)")
        return self._mixture.gate

    @property
    def intercepts(self) -> np.ndarray:
        """Each component's intercept (k; zeros without ``fitIntercept``)."""
        beta = self._mixture.coefficients
        return beta[:, 0].copy() if self._intercept else np.zeros(len(beta))

    @property
    def coefficients(self) -> np.ndarray:
        """Each component's coefficients of the features (k × p)."""
        beta = self._mixture.coefficients
        return beta[:, 1:].copy() if self._intercept else beta.copy()

    @property
    def sigmas(self) -> np.ndarray:
        """Each component's residual standard deviation σ_k (k)."""
        return self._mixture.sigmas

    @property
    def bic(self) -> float:
        """BIC on the training data, as scikit-learn counts it: −2·LL + m·log n with m the
        free parameters (k·q coefficients, k sigmas, and k − 1 weights or, with a gate of m'
        covariates, (k − 1)(m' + 1) gate coefficients) and n the rows (or the sum of their
        weights); lower is better."""
        k, q = self._mixture.coefficients.shape
        return mixreg.bic(self.summary.logLikelihood, k, q, self.summary.numRows, self._gates + 1)

    @property
    def aic(self) -> float:
        """AIC on the training data: −2·LL + 2m; lower is better."""
        k, q = self._mixture.coefficients.shape
        return mixreg.aic(self.summary.logLikelihood, k, q, self._gates + 1)

    def predict(self, value, gate=None) -> float:
        """The mixture's prediction Σ_k π_k x β_k for one row of features.

        Parameters
        ----------
        value : array_like
            One row of p features.
        gate : array_like, optional
            The row's m gate covariates (needed, and only taken, when the model has a gate).

        Returns
        -------
        float
            The prediction.
        """
        X = np.asarray(value, dtype=np.float64).reshape(1, -1)
        if self._gates:
            if gate is None:
                raise InputError("the model has a gate: give the row's covariates as gate")
            X = np.hstack([X, np.asarray(gate, dtype=np.float64).reshape(1, -1)])
        elif gate is not None:
            raise InputError("the model has no gate (gateCol was not set): give no gate")
        return float(self._outputs()[1](X)[0][0])

    def _design(self, X: np.ndarray) -> np.ndarray:
        """The rows' design (ones first with an intercept), from X without its gate."""
        p = X.shape[1] - self._gates
        return np.column_stack([np.ones(len(X)), X[:, :p]]) if self._intercept else X[:, :p]

    def _outputs(self):
        mixture, gates = self._mixture, self._gates
        shipped = mixreg.Shipped(mixture, self._intercept, gates)
        width = self.coefficients.shape[1] + gates

        def compute(X, y=None):
            if gates and X.shape[1] != width:
                raise InputError(
                    f"the features and gate have {X.shape[1]} values a row; the model was "
                    f"fitted on {self.coefficients.shape[1]} and {gates}"
                )
            if np.isnan(X).any():
                raise InputError(
                    "a row holds NaN in its features or gate: the model scores complete rows "
                    "(a row with a null gets null outputs)"
                )
            X = check_rows(X, width)
            design = self._design(X)
            each = design @ mixture.coefficients.T
            values = np.column_stack([np.zeros(len(X)) if y is None else y, X])
            out = [(each * mixreg.prior(values, shipped)).sum(axis=1), each]
            if y is not None:
                post, _ = mixreg.posterior(values, shipped)
                post[np.isnan(y)] = np.nan
                out += [post, np.where(np.isnan(y), -1, post.argmax(axis=1)).astype(np.int32)]
            return out

        fields = [
            StructField(self.getPredictionCol(), DoubleType()),
            StructField(self.getComponentPredictionsCol(), VectorUDT()),
        ]
        return fields, compute

    def _gate_columns(self, present: list) -> list[str]:
        """The gate's columns, when the model has a gate: each must be in ``present``."""
        if not self._gates:
            return []
        gate = self.getGateCol()
        names = [gate] if isinstance(gate, str) else list(gate or [])
        missing = [n for n in names if n not in present]
        if not names or missing:
            raise InputError(
                f"the model's gate needs its covariates' column(s) {', '.join(missing or ['?'])}"
                f" (gateCol); the data has {', '.join(map(str, present))}"
            )
        return names

    def _transform(self, dataset):
        fields, compute = self._outputs()
        gate = self._gate_columns(dataset.columns) or None
        label = self.getLabelCol()
        if label not in dataset.columns:
            return with_columns(dataset, self.getFeaturesCol(), fields, compute, extra_col=gate)
        fields = fields + [
            StructField(self.getProbabilityCol(), VectorUDT()),
            StructField(self.getComponentCol(), IntegerType()),
        ]
        return with_columns(
            dataset, self.getFeaturesCol(), fields, compute, label_col=label, extra_col=gate
        )

    def _pandas_rows(self, frame: pd.DataFrame):
        present, matrix = super()._pandas_rows(frame)
        names = self._gate_columns(list(frame.columns))
        if not names:
            return present, matrix
        if len(names) == 1 and frame[names[0]].dtype == object:
            column = frame[names[0]]  # a list, array or vector of covariates a row
            has_gate = column.notna().to_numpy()
            Z = np.full((len(frame), self._gates), np.nan)
            for row in np.flatnonzero(has_gate):
                value = column.iloc[row]
                value = np.asarray(
                    value.toArray() if hasattr(value, "toArray") else value, dtype=np.float64
                ).ravel()
                if value.shape != (self._gates,):
                    raise InputError(
                        f"model_input's {names[0]!r} holds {value.size} values on a row; the "
                        f"model's gate has {self._gates} covariates"
                    )
                Z[row] = value
        else:
            try:
                Z = frame[names].to_numpy(dtype=np.float64)
            except (TypeError, ValueError):
                raise InputError(f"model_input's {', '.join(names)} must hold numbers") from None
            if Z.shape[1] != self._gates:
                raise InputError(
                    f"model_input gives {Z.shape[1]} gate covariates; the model has {self._gates}"
                )
        has_gate = ~np.isnan(Z).any(axis=1)  # null or NaN: no output, as a null feature
        both = present & has_gate
        if matrix is None or not both.any():
            return both, None
        return both, np.hstack([matrix[has_gate[present]], Z[both]])

    def _input_example(self) -> pd.DataFrame:
        example = super()._input_example()
        gate = self.getGateCol()
        if not self._gates or gate is None:
            return example
        rows = len(example)
        if isinstance(gate, str) and self._gate_vector:
            example[gate] = [[0.0] * self._gates for _ in range(rows)]
        else:
            for name in [gate] if isinstance(gate, str) else gate:
                example[name] = np.zeros(rows)
        return example

    def _example_rows(self) -> np.ndarray:
        return np.eye(self.coefficients.shape[1])

    def _arrays(self) -> dict:
        return {
            name: np.asarray(value)
            for name, value in self._mixture._asdict().items()
            if value is not None
        }

    def _extra(self) -> dict:
        return {"intercept": self._intercept, "gate_vector": self._gate_vector}

    @classmethod
    def _from_saved(cls, arrays: dict, extra: dict) -> MixtureOfRegressionsModel:
        try:
            mixture = codec.decode_mixreg(arrays)
            intercept = bool(extra["intercept"])
        except (KeyError, ValueError) as exc:
            raise InputError(f"the saved model is incomplete or inconsistent ({exc})") from None
        model = cls(mixture, intercept)
        model._gate_vector = bool(extra.get("gate_vector", False))
        return model
