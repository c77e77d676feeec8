"""The summaries of weighted least squares, under MLlib's names: what a model gives on a
DataFrame (``WeightedLinearRegressionSummary``, from ``model.evaluate(df)``) and what a fit
reports (``WeightedLinearRegressionTrainingSummary``, ``model.summary``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from spark_em.errors import InputError
from spark_em.ml.summary import Summary, TrainingSummary
from spark_em.models import wols_inference

# measured on first use by one pass over the data (not part of the fit's own pass)
MEASURED = ("meanAbsoluteError", "explainedVariance")


@dataclass(kw_only=True, repr=False)
class WeightedLinearRegressionSummary(Summary):
    """A model's figures on a DataFrame, weighted by the weight column: ``rootMeanSquaredError``,
    ``meanSquaredError``, ``meanAbsoluteError``, ``r2``, ``explainedVariance``,
    ``numInstances``, and ``predictions`` and ``residuals`` (label − prediction) as DataFrames.

    Attributes
    ----------
    rootMeanSquaredError : float
        √(Σ w e² / Σ w), e = label − prediction.
    meanSquaredError : float
        Σ w e² / Σ w.
    r2 : float
        1 − Σ w e² / Σ w (y − ȳ_w)² (around 0 instead of ȳ_w without an intercept).
    numInstances : int
        The rows.
    weightSum : float
        The sum of the weights.

    Examples
    --------
    >>> metrics = model.evaluate(test)  # model: a fitted WeightedLinearRegressionModel
    >>> metrics.rootMeanSquaredError, metrics.r2, metrics.meanAbsoluteError
    >>> metrics.residuals.show(3)
    """

    rootMeanSquaredError: float | None = None
    meanSquaredError: float | None = None
    r2: float | None = None
    numInstances: int | None = None
    weightSum: float | None = None
    _measured: dict = field(default_factory=dict, init=False, repr=False, compare=False)
    _model: Any = field(default=None, init=False, repr=False, compare=False)
    _dataset: Any = field(default=None, init=False, repr=False, compare=False)

    @classmethod
    def of_evaluation(cls, figures: dict) -> WeightedLinearRegressionSummary:
        """The summary of ``wols_inference.evaluation``'s figures.

        Parameters
        ----------
        figures : dict
            The figures ``models.wols_inference.evaluation`` gives, by MLlib's names.

        Returns
        -------
        WeightedLinearRegressionSummary
            The summary holding them (not attached to data: ``predictions`` and
            ``residuals`` need ``model.evaluate(df)``).
        """
        summary = cls(**{k: v for k, v in figures.items() if k not in MEASURED})
        summary._measured.update({k: figures[k] for k in MEASURED})
        return summary

    def _attach(self, model, dataset) -> WeightedLinearRegressionSummary:
        self._model, self._dataset = model, dataset
        return self

    def _measure(self, name: str) -> float:
        if name not in self._measured:
            if self._dataset is None:
                raise InputError(f"{name} needs the data: use model.evaluate(df)")
            figures = self._model._evaluation(self._dataset)
            self._measured.update({k: figures[k] for k in MEASURED})
        return self._measured[name]

    @property
    def meanAbsoluteError(self) -> float:
        """``Σ w |e| / Σ w`` (one pass over the data on first use, for a training summary)."""
        return self._measure("meanAbsoluteError")

    @property
    def explainedVariance(self) -> float:
        """Σ w (ŷ − ȳ_w)² / Σ w (one pass over the data on first use, for a training summary)."""
        return self._measure("explainedVariance")

    @property
    def predictions(self):
        """The data with the model's ``prediction`` column."""
        if self._dataset is None:
            raise InputError("predictions need the data: use model.evaluate(df)")
        return self._model.transform(self._dataset)

    @property
    def residuals(self):
        """label − prediction, one column ``residuals``, as MLlib's summary."""
        from pyspark.sql import functions as F

        label, prediction = self._model.getLabelCol(), self._model.getPredictionCol()
        return self.predictions.select((F.col(label) - F.col(prediction)).alias("residuals"))

    def asDict(self) -> dict[str, Any]:
        """The figures by name (what a saved model keeps), with ``meanAbsoluteError`` and
        ``explainedVariance`` when they have been measured.

        Returns
        -------
        dict
            Every figure by name.
        """
        return {**super().asDict(), **self._measured}

    @classmethod
    def fromDict(cls, saved: dict[str, Any]):
        """The summary ``asDict`` gave; a figure this version does not know is refused.

        Parameters
        ----------
        saved : dict
            The figures by name, as ``asDict`` gave them.

        Returns
        -------
        WeightedLinearRegressionSummary
            A summary of this class holding them (an ``InputError`` when one is unknown or
            a required one is missing).
        """
        measured = {k: saved[k] for k in MEASURED if k in saved}
        summary = super().fromDict({k: v for k, v in saved.items() if k not in MEASURED})
        summary._measured.update(measured)
        return summary


@dataclass(kw_only=True, repr=False)
class WeightedLinearRegressionTrainingSummary(WeightedLinearRegressionSummary, TrainingSummary):
    """What a fit reports, under MLlib's names. For every solver: ``lossHistory``, ``passes``,
    ``numIter``, ``loss``, ``gradientNorm``, ``converged``, ``solver``, ``fitIntercept``. With
    the qr solver also the inference (statsmodels' definitions): ``estimates``,
    ``coefficientStandardErrors``, ``tValues`` and ``pValues`` (MLlib's order: the intercept
    last), ``r2``, ``r2adj``, ``rootMeanSquaredError``, ``meanSquaredError``,
    ``residualStandardError``, ``degreesOfFreedom``, ``numInstances``, ``numPositiveWeight``,
    ``fValue``, ``fPValue``, ``logLikelihood``, ``aic``, ``bic``, ``conditionNumber``,
    ``covType``, ``regParam``, and ``confidenceIntervals(alpha)``. On a model just fitted also
    ``meanAbsoluteError``, ``explainedVariance``, ``predictions`` and ``residuals``.

    Attributes
    ----------
    lossHistory : list of float
        The loss after every iteration (``objectiveHistory``).
    passes : int
        The passes over the data the fit made.
    loss : float
        The final loss, f(W) = ½ Σ w (W·X − y)².
    gradientNorm : float
        The norm of the loss's gradient at the solution.
    solver : str
        The solver that fitted the model.
    fitIntercept : bool
        Whether an intercept was fitted.
    estimates : list of float, optional
        The coefficients, the intercept last (qr).
    coefficientStandardErrors : list of float, optional
        Their standard errors, in the same order (qr without ``regParam``).
    tValues, pValues : list of float, optional
        Their t statistics and two-sided p-values (qr without ``regParam``).
    r2, r2adj : float, optional
        R² and adjusted R² (qr).
    rootMeanSquaredError, meanSquaredError : float, optional
        √(Σ w e² / Σ w) and its square (qr).
    residualStandardError : float, optional
        √(Σ w e² / degreesOfFreedom) (qr).
    degreesOfFreedom : float, optional
        The residual degrees of freedom: rows with a positive weight minus coefficients
        (qr).
    numInstances : int, optional
        The rows read (qr).
    numPositiveWeight : int, optional
        The rows with a positive weight, n (qr).
    weightSum : float, optional
        The sum of the weights (on an evaluation; None for a fit).
    fValue, fPValue : float, optional
        The F test that every coefficient but the intercept is 0, and its p-value (qr
        without ``regParam``; a Wald test with a robust ``covType``).
    logLikelihood, aic, bic : float, optional
        The Gaussian log-likelihood and statsmodels' AIC and BIC (qr).
    conditionNumber : float, optional
        cond(√W X), the weighted design's condition number (qr).
    covType : str, optional
        The covariance behind the standard errors (qr).
    regParam : float, optional
        The ridge λ (qr).
    featureNames : list of str, optional
        The features' names (from ``VectorAssembler``'s metadata).
    numIter : int
        The iterations the fit made.
    converged : bool
        Whether the stopping rule was met.

    Examples
    --------
    >>> summary = WeightedLinearRegression(weightCol="w").fit(df).summary
    >>> summary.pValues, summary.confidenceIntervals(0.05)
    >>> summary.r2, summary.residualStandardError, summary.conditionNumber
    """

    objective: ClassVar[str] = "loss"

    lossHistory: list[float]
    passes: int
    loss: float
    gradientNorm: float
    solver: str
    fitIntercept: bool
    estimates: list[float] | None = None
    coefficientStandardErrors: list[float] | None = None
    tValues: list[float] | None = None
    pValues: list[float] | None = None
    r2adj: float | None = None
    residualStandardError: float | None = None
    degreesOfFreedom: float | None = None
    numPositiveWeight: int | None = None
    fValue: float | None = None
    fPValue: float | None = None
    logLikelihood: float | None = None
    aic: float | None = None
    bic: float | None = None
    conditionNumber: float | None = None
    covType: str | None = None
    regParam: float | None = None
    featureNames: list[str] | None = None

    @classmethod
    def of_result(
        cls, result, feature_names: list[str] | None = None
    ) -> WeightedLinearRegressionTrainingSummary:
        """The summary of a ``models.wols.RegressionResult`` fitted on ``feature_names``.

        Parameters
        ----------
        result : models.wols.RegressionResult
            The fit.
        feature_names : list of str, optional
            The features' names, for the coefficient table.

        Returns
        -------
        WeightedLinearRegressionTrainingSummary
            The fit's figures under MLlib's names.
        """
        figures: dict[str, Any] = dict(
            featureNames=None if feature_names is None else list(feature_names),
            lossHistory=result.loss_history,
            passes=result.passes,
            numIter=result.n_iter,
            loss=result.loss,
            gradientNorm=result.gradient_norm,
            converged=result.converged,
            solver=result.solver,
            fitIntercept=result.fit_intercept,
        )
        inference = result.inference
        if inference is not None:
            k = result.fit_intercept
            figures.update(
                estimates=_intercept_last(inference["coefficients"], k),
                coefficientStandardErrors=_intercept_last(inference["standard_errors"], k),
                tValues=_intercept_last(inference["t_values"], k),
                pValues=_intercept_last(inference["p_values"], k),
                r2=inference["r2"],
                r2adj=inference["r2_adj"],
                rootMeanSquaredError=inference["rmse"],
                meanSquaredError=inference["rmse"] ** 2,
                residualStandardError=inference["residual_standard_error"],
                degreesOfFreedom=inference["degrees_of_freedom"],
                numInstances=inference["n_rows"],
                numPositiveWeight=inference["n_positive_weight"],
                fValue=inference["f_statistic"],
                fPValue=inference["f_p_value"],
                logLikelihood=inference["log_likelihood"],
                aic=inference["aic"],
                bic=inference["bic"],
                conditionNumber=inference["condition_number"],
                covType=inference["cov_type"],
                regParam=inference["reg_param"],
            )
        return cls(**figures)

    def _names(self) -> list[str]:
        """The coefficients' names in the table's order: the intercept first."""
        width = len(self.estimates or []) - int(self.fitIntercept)
        names = self.featureNames or [f"features[{i}]" for i in range(width)]
        return ["intercept", *names] if self.fitIntercept else list(names)

    def _intercept_first(self, values) -> list | None:
        if values is None:
            return None
        values = list(values)
        return [values[-1], *values[:-1]] if self.fitIntercept else values

    def toPandas(self, alpha: float = 0.05):
        """The coefficient table as a pandas DataFrame, as statsmodels prints it: one row per
        coefficient (the intercept first, then the features by name: the assembled columns'
        names from the features column's metadata), columns ``coef``, ``std err``, ``t``,
        ``P>|t|`` and the 1 − ``alpha`` interval. qr only; other solvers give ``coef`` alone.

        Parameters
        ----------
        alpha : float, default 0.05
            The intervals' level is 1 − ``alpha``.

        Returns
        -------
        pandas.DataFrame
            One row per coefficient, indexed by name.

        Examples
        --------
        >>> model.summary.toPandas().loc["age", "P>|t|"]
        """
        import pandas as pd

        names = self._names()
        if self.coefficientStandardErrors is None:
            return pd.DataFrame({"coef": self._intercept_first(self.estimates)}, index=names)
        low, high = np.asarray(self.confidenceIntervals(alpha)).T
        return pd.DataFrame(
            {
                "coef": self._intercept_first(self.estimates),
                "std err": self._intercept_first(self.coefficientStandardErrors),
                "t": self._intercept_first(self.tValues),
                "P>|t|": self._intercept_first(self.pValues),
                f"[{alpha / 2:g}": self._intercept_first(list(low)),
                f"{1 - alpha / 2:g}]": self._intercept_first(list(high)),
            },
            index=names,
        )

    def _figures(self) -> list[str]:
        """The fit's figures under the table, two lines."""
        if self.coefficientStandardErrors is None:
            return [f"{self.solver}: loss {self.loss:.6g} after {self.numIter} iterations"]
        f_test = "" if self.fValue is None else f"   F {self.fValue:.6g} (p {self.fPValue:.3g})"
        return [
            f"R² {self.r2:.6g}   adjusted R² {self.r2adj:.6g}{f_test}",
            f"residual standard error {self.residualStandardError:.6g} on "
            f"{self.degreesOfFreedom:g} degrees of freedom   log-likelihood "
            f"{self.logLikelihood:.6g}   AIC {self.aic:.6g}   BIC {self.bic:.6g}",
            f"{self.numInstances} rows   covariance {self.covType}   condition number "
            f"{self.conditionNumber:.4g}",
        ]

    def __str__(self) -> str:
        """The statsmodels-style table: coefficients with their tests, then the figures."""
        title = f"Weighted least squares ({self.solver})"
        table = self.toPandas().to_string(float_format=lambda v: f"{v:.6g}")
        return "\n".join([title, table, *self._figures()])

    def _repr_html_(self) -> str:
        """The same table in a notebook."""
        figures = "".join(f"<br>{line}" for line in self._figures())
        return (
            f"<b>Weighted least squares ({self.solver})</b>"
            f"{self.toPandas().to_html(float_format=lambda v: f'{v:.6g}')}{figures}"
        )

    def confidenceIntervals(self, alpha: float = 0.05) -> list[list[float]]:
        """[low, high] per coefficient at 1 − ``alpha`` (Student t with degreesOfFreedom), in
        the order of ``coefficientStandardErrors``; qr only.

        Parameters
        ----------
        alpha : float, default 0.05
            The intervals' level is 1 − ``alpha`` (0 < alpha < 1).

        Returns
        -------
        list of list of float
            [low, high] per coefficient, the intercept last.
        """
        if self.coefficientStandardErrors is None:
            raise InputError("confidence intervals need the qr solver without regParam")
        if not 0 < alpha < 1:
            raise InputError(f"{{param}} must be between 0 and 1, got {alpha}", param="alpha")
        return wols_inference.confidence_intervals(
            self.estimates, self.coefficientStandardErrors, self.degreesOfFreedom, alpha
        ).tolist()


def _intercept_last(values, intercept: bool) -> list | None:
    """MLlib's order: the features' entries, then the intercept's."""
    if values is None:
        return None
    values = np.asarray(values)
    return (np.concatenate([values[1:], values[:1]]) if intercept else values).tolist()
