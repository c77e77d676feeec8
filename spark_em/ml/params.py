"""Params the estimators share, with validators in the style of MLlib's ``ParamValidators``: a
value that cannot be used is refused when it is set, with a ``TypeError`` that names the
param (as ``pyspark.ml`` reports a value its converter refuses), not later inside a fit."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

from pyspark.ml.param import Param, Params, TypeConverters

from spark_em.engine import progress
from spark_em.engine.backend import BACKENDS as STORAGE

BACKENDS = ("auto", *STORAGE)


def validated(name: str, convert: Callable, ok: Callable[[object], bool], what: str) -> Callable:
    """A type converter for param ``name`` that also checks the value: ``convert``, then ``ok``
    or a TypeError saying the value must be ``what``."""

    def converter(value):
        value = convert(value)
        if not ok(value):
            raise TypeError(f"{name} must be {what}, not {value!r}")
        return value

    return converter


def gt(name: str, lower: float, convert: Callable = TypeConverters.toFloat) -> Callable:
    return validated(name, convert, lambda v: math.isfinite(v) and v > lower, f"> {lower}")


def gt_eq(name: str, lower: float, convert: Callable = TypeConverters.toFloat) -> Callable:
    return validated(name, convert, lambda v: math.isfinite(v) and v >= lower, f">= {lower}")


def in_array(name: str, allowed: Iterable[str]) -> Callable:
    allowed = tuple(allowed)
    return validated(
        name, TypeConverters.toString, lambda v: v in allowed, f"one of {', '.join(allowed)}"
    )


def given(kwargs: dict) -> dict:
    """Keyword params without those left at None (unset): for constructors whose optional
    params (a weight column, an initial model) have no default."""
    return {name: value for name, value in kwargs.items() if value is not None}


def column_names(value, param: str) -> str | list[str]:
    """A column name, or a non-empty list of column names (one value each); a ``TypeError``
    naming ``param`` for anything else."""
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, str) for v in value):
        return list(value)
    raise TypeError(
        f"{param} must be a column name or a non-empty list of column names, not {value!r}"
    )


def to_features(value) -> str | list[str]:
    """``featuresCol``'s converter: a column name, or a list of column names (one feature
    each)."""
    return column_names(value, "featuresCol")


class HasFeaturesCol(Params):
    """``featuresCol``: pyspark's, and also a list of numeric columns (one feature each)."""

    featuresCol = Param(
        Params._dummy(),
        "featuresCol",
        "features column name (pyspark.ml vectors or arrays of numbers), or a list of numeric "
        "column names, one feature each",
        to_features,
    )

    def __init__(self, *args):
        super().__init__(*args)
        self._setDefault(featuresCol="features")

    def getFeaturesCol(self) -> str | list[str]:
        """Gets the value of featuresCol or its default value."""
        return self.getOrDefault(self.featuresCol)


class HasIterationParams(Params):
    """``maxIter`` (>= 1) and ``tol`` (>= 0), validated (pyspark's shared params are not)."""

    maxIter = Param(
        Params._dummy(),
        "maxIter",
        "max number of iterations (>= 1)",
        gt_eq("maxIter", 1, TypeConverters.toInt),
    )
    tol = Param(Params._dummy(), "tol", "the convergence tolerance (>= 0)", gt_eq("tol", 0))

    def getMaxIter(self) -> int:
        """Gets the value of maxIter or its default value."""
        return self.getOrDefault(self.maxIter)

    def getTol(self) -> float:
        """Gets the value of tol or its default value."""
        return self.getOrDefault(self.tol)


class HasVerbose(Params):
    """``verbose``: one line per iteration of every start on stderr while ``fit`` runs (the
    ``spark_em`` logger's lines; see ``engine.progress``). Placed before ``Estimator`` in an
    estimator's bases, so that its ``fit`` wraps the estimator's."""

    verbose = Param(
        Params._dummy(),
        "verbose",
        "print one line per iteration on stderr while fitting (the spark_em logger's lines)",
        TypeConverters.toBoolean,
    )

    def __init__(self, *args):
        super().__init__(*args)
        self._setDefault(verbose=False)

    def getVerbose(self) -> bool:
        """Gets the value of verbose or its default value."""
        return self.getOrDefault(self.verbose)

    def setVerbose(self, value: bool):
        """Sets the value of :py:attr:`verbose`."""
        return self._set(verbose=value)

    def fit(self, dataset, params=None):
        """The estimator's ``fit``, with its progress shown on stderr when ``verbose`` is set
        (on the estimator or in ``params``).

        Parameters
        ----------
        dataset : pyspark.sql.DataFrame
            The data to fit.
        params : dict, list or tuple, optional
            A param map, or several (as ``Estimator.fit`` takes them).

        Returns
        -------
        Model or list of Model
            What ``Estimator.fit`` returns.
        """
        verbose = self.getVerbose()
        if isinstance(params, dict):
            verbose = bool(params.get(self.verbose, verbose))
        with progress.shown(verbose):
            return super().fit(dataset, params)  # type: ignore[misc]


class HasBackend(Params):
    backend = Param(
        Params._dummy(),
        "backend",
        "where fit keeps the data: auto (RDD blocks in a classic session, the "
        "DataFrame backend under Spark Connect), rdd or dataframe",
        in_array("backend", BACKENDS),
    )

    def __init__(self, *args):
        super().__init__(*args)
        self._setDefault(backend="auto")

    def getBackend(self) -> str:
        """Gets the value of backend or its default value."""
        return self.getOrDefault(self.backend)

    def setBackend(self, value: str):
        """Sets the value of :py:attr:`backend`."""
        return self._set(backend=value)

    def _backend_arg(self) -> str | None:
        """The ``backend=`` argument of the readers (None: chosen from the session)."""
        return None if self.getBackend() == "auto" else self.getBackend()


class FitSetters:
    """Setters of the params every estimator has (each class only has those it declares)."""

    def setFeaturesCol(self, value: str):
        """Sets the value of :py:attr:`featuresCol`."""
        return self._set(featuresCol=value)

    def setMaxIter(self, value: int):
        """Sets the value of :py:attr:`maxIter`."""
        return self._set(maxIter=value)

    def setTol(self, value: float):
        """Sets the value of :py:attr:`tol`."""
        return self._set(tol=value)


class HasRegressionParams(Params):
    """The label, row weights, intercept and ridge of a least-squares fit: shared by
    ``WeightedLinearRegression`` and ``MixtureOfRegressions`` (whose components' fits weigh
    each row by its weight times its responsibility)."""

    labelCol = Param(Params._dummy(), "labelCol", "label column", TypeConverters.toString)
    weightCol = Param(
        Params._dummy(),
        "weightCol",
        "weight column (finite, >= 0); unset: every row weighs 1",
        TypeConverters.toString,
    )
    fitIntercept = Param(
        Params._dummy(),
        "fitIntercept",
        "whether to fit an intercept (in a mixture, one per component)",
        TypeConverters.toBoolean,
    )
    regParam = Param(
        Params._dummy(),
        "regParam",
        "ridge λ (in WeightedLinearRegression, of the qr solver): minimises Σw e² + "
        "λ·Σw·||β||², the intercept not penalised",
        gt_eq("regParam", 0),
    )

    def __init__(self, *args):
        super().__init__(*args)
        self._setDefault(labelCol="label", fitIntercept=True, regParam=0.0)

    def getLabelCol(self) -> str:
        """Gets the value of labelCol or its default value."""
        return self.getOrDefault(self.labelCol)

    def getWeightCol(self) -> str | None:
        """Gets the value of :py:attr:`weightCol`, or None when it is not set.

        Returns
        -------
        str or None
            The weight column's name; None: every row weighs 1.
        """
        return self.getOrDefault(self.weightCol) if self.isDefined(self.weightCol) else None

    def getFitIntercept(self) -> bool:
        """Gets the value of fitIntercept or its default value."""
        return self.getOrDefault(self.fitIntercept)

    def getRegParam(self) -> float:
        """Gets the value of regParam or its default value."""
        return self.getOrDefault(self.regParam)


class RegressionSetters:
    """Setters of ``HasRegressionParams``."""

    def setLabelCol(self, value: str):
        """Sets the value of :py:attr:`labelCol`."""
        return self._set(labelCol=value)

    def setWeightCol(self, value: str):
        """Sets the value of :py:attr:`weightCol`."""
        return self._set(weightCol=value)

    def setFitIntercept(self, value: bool):
        """Sets the value of :py:attr:`fitIntercept`."""
        return self._set(fitIntercept=value)

    def setRegParam(self, value: float):
        """Sets the value of :py:attr:`regParam`."""
        return self._set(regParam=value)


class MixtureSetters(FitSetters):
    def setK(self, value: int):
        """Sets the value of :py:attr:`k`."""
        return self._set(k=value)

    def setSeed(self, value: int):
        """Sets the value of :py:attr:`seed`."""
        return self._set(seed=value)


class HasStepParams(Params):
    """How stepwise EM weighs a new batch (``kernels.stepwise``): ``stepDecay`` α gives the
    step (t + 2)^(−α) after t updates; ``halfLife`` (in rows, or units of weight) a constant
    step under which statistics that many rows old weigh half. Unset, a model's
    ``partialFit`` adds the batch to the rows it was fitted on (step n_b / (n + n_b))."""

    stepDecay = Param(
        Params._dummy(),
        "stepDecay",
        "α of the step (t + 2)^(-α) after t updates, in (0.5, 1]",
        validated("stepDecay", TypeConverters.toFloat, lambda v: 0.5 < v <= 1.0, "in (0.5, 1]"),
    )
    halfLife = Param(
        Params._dummy(),
        "halfLife",
        "rows after which a batch's statistics weigh half (a constant step, for data "
        "that drift); overrides stepDecay",
        gt("halfLife", 0),
    )

    def getStepDecay(self) -> float | None:
        """Gets the value of stepDecay.

        Returns
        -------
        float or None
            α, or None when it is not set.
        """
        return self.getOrDefault(self.stepDecay) if self.isDefined(self.stepDecay) else None

    def getHalfLife(self) -> float | None:
        """Gets the value of halfLife.

        Returns
        -------
        float or None
            The half-life in rows, or None when it is not set.
        """
        return self.getOrDefault(self.halfLife) if self.isDefined(self.halfLife) else None

    def setStepDecay(self, value: float):
        """Sets the value of :py:attr:`stepDecay`."""
        return self._set(stepDecay=value)

    def setHalfLife(self, value: float):
        """Sets the value of :py:attr:`halfLife`."""
        return self._set(halfLife=value)
