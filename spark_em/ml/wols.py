"""The spark.ml-style weighted least squares: ``WeightedLinearRegression``, its model and the
model's summary (MLlib's names)."""

from __future__ import annotations

import time

import numpy as np
from pyspark import keyword_only
from pyspark.ml import Estimator
from pyspark.ml.linalg import DenseVector
from pyspark.ml.param import Param, Params
from pyspark.ml.param.shared import HasPredictionCol
from pyspark.sql.types import DoubleType, StructField

from spark_em.engine import ops
from spark_em.errors import InputError, warn
from spark_em.io.table import aggregate_dataframe, from_dataframe
from spark_em.kernels import wols
from spark_em.ml.columns import check_rows
from spark_em.ml.fitted import FittedModel
from spark_em.ml.params import (
    FitSetters,
    HasBackend,
    HasFeaturesCol,
    HasIterationParams,
    HasRegressionParams,
    HasVerbose,
    RegressionSetters,
    gt_eq,
    in_array,
)
from spark_em.ml.persistence import DefaultParamsReadable, ParamsWritable
from spark_em.ml.summary import warn_unconverged
from spark_em.ml.tracking import Tracked
from spark_em.ml.wols_summary import (
    WeightedLinearRegressionSummary,
    WeightedLinearRegressionTrainingSummary,
)
from spark_em.models import wols as wols_model
from spark_em.models import wols_inference
from spark_em.models.wols import GD_STOPS, SOLVERS
from spark_em.models.wols_inference import COV_TYPES


class _WeightedLinearRegressionParams(
    HasFeaturesCol, HasPredictionCol, HasIterationParams, HasRegressionParams
):
    solver = Param(
        Params._dummy(), "solver", "qr, newton, normal or gd", in_array("solver", SOLVERS)
    )
    covType = Param(
        Params._dummy(),
        "covType",
        "qr: standard errors nonrobust, HC0, HC1, HC2 "
        "or HC3 (heteroscedasticity-robust, one more pass)",
        in_array("covType", COV_TYPES),
    )
    stepSize = Param(
        Params._dummy(),
        "stepSize",
        "gd learning rate (>= 0); 0 means automatic (preconditioned, 1/L)",
        gt_eq("stepSize", 0),
    )
    stopRule = Param(
        Params._dummy(),
        "stopRule",
        "gd: gradient (||grad|| <= tol * its first value) or classic (||W_new - W_old||^2 < tol)",
        in_array("stopRule", GD_STOPS),
    )

    def __init__(self, *args):
        super().__init__(*args)
        self._setDefault(
            solver="qr",
            covType="nonrobust",
            stepSize=0.0,
            stopRule="gradient",
            maxIter=1000,
            tol=wols_model.GD_TOL["gradient"],
        )

    def getSolver(self) -> str:
        """Gets the value of solver or its default value."""
        return self.getOrDefault(self.solver)

    def getCovType(self) -> str:
        """Gets the value of covType or its default value."""
        return self.getOrDefault(self.covType)

    def getStepSize(self) -> float:
        """Gets the value of stepSize or its default value."""
        return self.getOrDefault(self.stepSize)

    def getStopRule(self) -> str:
        """Gets the value of stopRule or its default value."""
        return self.getOrDefault(self.stopRule)

    def _data(self, dataset, backend: str | None = None):
        return from_dataframe(
            dataset,
            self.getLabelCol(),
            self.getWeightCol(),
            self.getFeaturesCol(),
            backend=backend,
            param="featuresCol",
        )


class WeightedLinearRegression(
    Tracked,
    HasVerbose,
    Estimator,
    _WeightedLinearRegressionParams,
    HasBackend,
    FitSetters,
    RegressionSetters,
    DefaultParamsReadable,
    ParamsWritable,
):
    """Weighted least squares, f(W) = ½ Σ w (W·X − y)², on a vector features column; MLlib's
    parameter names.

    Defaults are the library's (``models.wols.fit``): the qr solver (one pass of TSQR, with
    standard errors and tests), an intercept, no weight column (every row weighs 1); for gd up
    to 1000 iterations, the automatic preconditioned step and the gradient rule with tol 1e-9
    (1e-5 with ``stopRule="classic"`` when ``tol`` is not set).

    Parameters
    ----------
    featuresCol : str, default "features"
        Features column name: ``pyspark.ml`` vectors (``VectorAssembler``'s output; the
        coefficients take the names it records).
    labelCol : str, default "label"
        Label column name.
    weightCol : str, optional
        Weight column name (finite, >= 0). If this is not set, we treat all instance
        weights as 1.0.
    predictionCol : str, default "prediction"
        Prediction column name: W·X (plus the intercept).
    solver : {"qr", "newton", "normal", "gd"}, default "qr"
        The solver algorithm for optimization: ``qr`` (one pass of TSQR, with standard
        errors and tests), ``normal`` (the normal equations, one pass), ``newton`` (one
        Newton step from 0 and a pass that confirms it) or ``gd`` (gradient descent).
    fitIntercept : bool, default True
        Whether to fit an intercept term.
    regParam : float, default 0.0
        Regularization parameter (>= 0): ridge λ, minimising Σw e² + λ·Σw·‖β‖², the
        intercept not penalised; qr only, and a ridge fit reports no standard errors or
        tests.
    covType : {"nonrobust", "HC0", "HC1", "HC2", "HC3"}, default "nonrobust"
        The coefficients' covariance for the standard errors (statsmodels' names; HC0–HC3
        are heteroscedasticity-robust, one more pass); qr only.
    maxIter : int, default 1000
        Max number of iterations (>= 1) of gd; a fit stopped there warns
        (``ConvergenceWarning``).
    tol : float, default 1e-9
        The convergence tolerance for iterative algorithms (>= 0), gd's: with the gradient
        rule, stop when ‖∇‖ ≤ tol·(its first value); with the classic rule, when
        ‖W_new − W_old‖² < tol (1e-5 when ``tol`` is not set).
    stepSize : float, default 0.0
        Step size to be used for each iteration of gd (>= 0); 0 means automatic: the
        preconditioned descent with the step 1/L.
    stopRule : {"gradient", "classic"}, default "gradient"
        gd's stopping rule: ``gradient`` (optimality: the gradient's norm against its first
        value) or ``classic`` (the original experiment's: the squared step).
    backend : {"auto", "rdd", "dataframe"}, default "auto"
        Where ``fit`` keeps the data: ``auto`` takes RDD blocks in a classic session and
        the DataFrame backend under Spark Connect.
    verbose : bool, default False
        Log one line per iteration to the ``spark_em`` logger (shown on stderr while
        fitting); or configure ``logging.getLogger('spark_em')`` at INFO.

    Examples
    --------
    >>> import numpy as np
    >>> from pyspark.ml.feature import VectorAssembler
    >>> rng = np.random.default_rng(0)
    >>> x, w = rng.uniform(-4, 4, size=1000), rng.uniform(0.5, 2.0, size=1000)
    >>> rows = [(float(a), float(a - 4 + rng.normal(0, 0.5)), float(b)) for a, b in zip(x, w)]
    >>> df = VectorAssembler(inputCols=["x"], outputCol="features").transform(
    ...     spark.createDataFrame(rows, ["x", "label", "w"])
    ... )
    >>> from spark_em.ml import WeightedLinearRegression
    >>> model = WeightedLinearRegression(weightCol="w").fit(df)
    >>> model.intercept, model.coefficients  # near -4 and [1]
    >>> print(model.summary)  # statsmodels' table: coefficients, standard errors, tests
    >>> model.summary.toPandas().loc["x", "P>|t|"]
    >>> gd = WeightedLinearRegression(weightCol="w", solver="gd").fit(df)
    >>> gd.summary.numIter, gd.summary.converged
    """

    @keyword_only
    def __init__(
        self,
        *,
        featuresCol="features",
        labelCol="label",
        weightCol=None,
        predictionCol="prediction",
        solver="qr",
        fitIntercept=True,
        regParam=0.0,
        covType="nonrobust",
        maxIter=1000,
        tol=1e-9,
        stepSize=0.0,
        stopRule="gradient",
        backend="auto",
        verbose=False,
    ):
        super().__init__()
        self._set(**{k: v for k, v in self._input_kwargs.items() if v is not None})

    @keyword_only
    def setParams(
        self,
        *,
        featuresCol="features",
        labelCol="label",
        weightCol=None,
        predictionCol="prediction",
        solver="qr",
        fitIntercept=True,
        regParam=0.0,
        covType="nonrobust",
        maxIter=1000,
        tol=1e-9,
        stepSize=0.0,
        stopRule="gradient",
        backend="auto",
        verbose=False,
    ):
        """Sets the params given as keywords (the constructor's; see the class's
        Parameters); the others keep their values.

        Returns
        -------
        WeightedLinearRegression
            This estimator.
        """
        return self._set(**{k: v for k, v in self._input_kwargs.items() if v is not None})

    def setPredictionCol(self, value: str):
        """Sets the value of :py:attr:`predictionCol`."""
        return self._set(predictionCol=value)

    def setSolver(self, value: str):
        """Sets the value of :py:attr:`solver`."""
        return self._set(solver=value)

    def setCovType(self, value: str):
        """Sets the value of :py:attr:`covType`."""
        return self._set(covType=value)

    def setStepSize(self, value: float):
        """Sets the value of :py:attr:`stepSize`."""
        return self._set(stepSize=value)

    def setStopRule(self, value: str):
        """Sets the value of :py:attr:`stopRule`."""
        return self._set(stopRule=value)

    def _fit(self, dataset) -> WeightedLinearRegressionModel:
        if self.getWeightCol() is None and "weight" in dataset.columns:
            warn(
                "weightCol is not set, so every row weighs 1; the data have a column "
                "'weight' (setWeightCol('weight') uses it)"
            )
        if wols_model.reads_once(self.getSolver(), self.getCovType()):
            result, data = self._fit_in_one_pass(dataset)
        else:
            result, data = self._fit_on_blocks(dataset)
        summary = WeightedLinearRegressionTrainingSummary.of_result(result, data.feature_names)
        warn_unconverged(self, summary)
        model = self._copyValues(
            WeightedLinearRegressionModel(result.coefficients, result.intercept, summary)
        )
        summary._attach(model, dataset)
        model._remember_inputs(dataset)
        return model

    def _fit_in_one_pass(self, dataset):
        """qr with the model-based covariance: the TSQR sums straight from the DataFrame's
        Arrow batches, nothing cached."""
        start = time.perf_counter()
        intercept, reg_param = self.getFitIntercept(), self.getRegParam()
        wols_model.check_options("qr", intercept, reg_param, "nonrobust")
        totals, data = aggregate_dataframe(
            dataset,
            self.getLabelCol(),
            self.getWeightCol(),
            self.getFeaturesCol(),
            wols.qr_stats,
            wols.add_qr,
            intercept,
            backend=self._backend_arg(),
            param="featuresCol",
        )
        result = wols_model.fit_qr_sums(
            totals, data.feature_names, intercept, reg_param, start=start
        )
        return result, data

    def _fit_on_blocks(self, dataset):
        """Every other fit: the rows cached as blocks for its passes, released after."""
        data = self._data(dataset, self._backend_arg())
        try:
            step = self.getStepSize() if self.getStepSize() > 0 else "auto"
            # an unset tol takes the library's default for the stopping rule chosen
            tol = self.getTol() if self.isSet(self.tol) else None
            result = wols_model.fit(
                data,
                self.getSolver(),
                step,
                tol,
                self.getMaxIter(),
                fit_intercept=self.getFitIntercept(),
                reg_param=self.getRegParam(),
                cov_type=self.getCovType(),
                stop=self.getStopRule(),
            )
        finally:
            ops.release(data.blocks)
        return result, data


class WeightedLinearRegressionModel(FittedModel, _WeightedLinearRegressionParams):
    """``coefficients`` (a DenseVector), ``intercept``, ``summary``; ``transform`` adds the
    prediction W·X; ``evaluate(df)`` scores new data.

    Made by ``WeightedLinearRegression.fit`` or read by
    ``WeightedLinearRegressionModel.load``.

    Parameters
    ----------
    coefficients : array_like, optional
        The features' coefficients.
    intercept : float, default 0.0
        The intercept (0 without one).
    summary : WeightedLinearRegressionTrainingSummary, optional
        The summary of the fit.

    Examples
    --------
    >>> import numpy as np
    >>> from pyspark.ml.feature import VectorAssembler
    >>> rng = np.random.default_rng(0)
    >>> x, w = rng.uniform(-4, 4, size=1000), rng.uniform(0.5, 2.0, size=1000)
    >>> rows = [(float(a), float(a - 4 + rng.normal(0, 0.5)), float(b)) for a, b in zip(x, w)]
    >>> df = VectorAssembler(inputCols=["x"], outputCol="features").transform(
    ...     spark.createDataFrame(rows, ["x", "label", "w"])
    ... )
    >>> from spark_em.ml import WeightedLinearRegression, WeightedLinearRegressionModel
    >>> train, test = df.randomSplit([0.8, 0.2], seed=1)
    >>> model = WeightedLinearRegression(weightCol="w").fit(train)
    >>> model.transform(test).select("label", "prediction").show(3)
    >>> model.evaluate(test).rootMeanSquaredError
    >>> model.write().overwrite().save("models/wls")
    >>> WeightedLinearRegressionModel.load("models/wls").coefficients
    """

    summary_class = WeightedLinearRegressionTrainingSummary
    key_params = ("solver", "fitIntercept", "regParam")

    def __init__(
        self,
        coefficients=None,
        intercept: float = 0.0,
        summary: WeightedLinearRegressionTrainingSummary | None = None,
    ):
        super().__init__(summary)
        self._coefficients = None if coefficients is None else np.asarray(coefficients, np.float64)
        self._intercept = float(intercept)

    @property
    def coefficients(self) -> DenseVector:
        """The features' coefficients, in the features' order (the intercept apart)."""
        return DenseVector(self._coefficients)

    @property
    def intercept(self) -> float:
        """The intercept (0.0 when ``fitIntercept`` is False)."""
        return self._intercept

    def _outputs(self):
        coefficients, intercept = self._coefficients, self._intercept

        def compute(X):
            return [check_rows(X, len(coefficients)) @ coefficients + intercept]

        return [StructField(self.getPredictionCol(), DoubleType())], compute

    def _evaluation(self, dataset) -> dict:
        data = self._data(dataset)
        if len(data.feature_names) != len(self._coefficients):
            ops.release(data.blocks)
            raise InputError(
                f"the data have {len(data.feature_names)} features, the model "
                f"{len(self._coefficients)}"
            )
        W = (
            np.r_[self._intercept, self._coefficients]
            if self.getFitIntercept()
            else self._coefficients
        )
        try:
            sums = ops.aggregate(
                data.blocks,
                wols.residual_stats,
                wols.add_residuals,
                (W, None, self.getFitIntercept(), 0),
            )
        finally:
            ops.release(data.blocks)
        return wols_inference.evaluation(sums, self.getFitIntercept())

    def evaluate(self, dataset) -> WeightedLinearRegressionSummary:
        """Weighted ``rootMeanSquaredError``, ``meanSquaredError``, ``meanAbsoluteError``,
        ``r2``, ``explainedVariance`` and ``numInstances`` on ``dataset`` (its label, weight
        and features columns as the model's params name them), with its ``predictions`` and
        ``residuals``.

        Parameters
        ----------
        dataset : pyspark.sql.DataFrame
            The data: the label, features (of the model's width) and, when ``weightCol`` is
            set, weight columns.

        Returns
        -------
        WeightedLinearRegressionSummary
            The figures on ``dataset``, weighted by its weight column.
        """
        summary = WeightedLinearRegressionSummary.of_evaluation(self._evaluation(dataset))
        return summary._attach(self, dataset)

    def _example_rows(self) -> np.ndarray:
        return np.eye(len(self._coefficients))

    def _arrays(self) -> dict:
        return {"coefficients": self._coefficients, "intercept": np.array([self._intercept])}

    @classmethod
    def _from_saved(cls, arrays: dict, extra: dict) -> WeightedLinearRegressionModel:
        try:
            coefficients, intercept = arrays["coefficients"], arrays["intercept"]
            if (
                coefficients.ndim != 1
                or intercept.shape != (1,)
                or not (np.all(np.isfinite(coefficients)) and np.isfinite(intercept[0]))
            ):
                raise ValueError("coefficients must be a finite vector and intercept one number")
        except (KeyError, ValueError) as exc:
            raise InputError(f"the saved model is incomplete or inconsistent ({exc})") from None
        return cls(coefficients, float(intercept[0]))
