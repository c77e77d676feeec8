"""The spark.ml-style weighted least squares: ``WeightedLinearRegression`` and its model."""

from __future__ import annotations

import numpy as np
from pyspark import keyword_only
from pyspark.ml import Estimator, Model
from pyspark.ml.linalg import DenseVector
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.ml.param.shared import HasFeaturesCol, HasPredictionCol
from pyspark.sql.types import DoubleType, StructField

from spark_em.errors import InputError
from spark_em.io.table import from_dataframe
from spark_em.ml.columns import with_columns
from spark_em.ml.params import FitSetters, HasBackend, HasIterationParams, gt_eq, in_array
from spark_em.ml.persistence import ArrayModelPersistence, DefaultParamsReadable, ParamsWritable
from spark_em.models import wols as wols_model
from spark_em.models.wols import SOLVERS


class _WeightedLinearRegressionParams(HasFeaturesCol, HasPredictionCol, HasIterationParams):
    labelCol = Param(Params._dummy(), "labelCol", "label column", TypeConverters.toString)
    weightCol = Param(Params._dummy(), "weightCol", "weight column (finite, >= 0)",
                      TypeConverters.toString)
    solver = Param(Params._dummy(), "solver", "newton, normal or gd", in_array("solver", SOLVERS))
    stepSize = Param(Params._dummy(), "stepSize",
                     "gd learning rate (>= 0); 0 means automatic (1/L)", gt_eq("stepSize", 0))

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


class WeightedLinearRegression(Estimator, _WeightedLinearRegressionParams, HasBackend,
                               FitSetters, DefaultParamsReadable, ParamsWritable):
    """Weighted least squares, f(W) = ½ Σ w (W·X − y)² with an intercept, on a vector features
    column; MLlib's parameter names.

    Defaults are the library's (``models.wols.fit``: the newton solver; for gd tol 1e-5 on
    ‖ΔW‖², up to 1000 iterations, the automatic step 1/L), not MLlib's ``LinearRegression``
    (auto solver, maxIter 100, tol 1e-6)."""

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
        data = from_dataframe(dataset, self.getLabelCol(), self.getWeightCol(),
                                         [self.getFeaturesCol()], backend=self._backend_arg())
        try:
            step = self.getStepSize() if self.getStepSize() > 0 else "auto"
            result = wols_model.fit(data, self.getSolver(), step, self.getTol(), self.getMaxIter())
        finally:
            data.blocks.unpersist()
        summary = {"lossHistory": result.loss_history, "passes": result.passes,
                   "numIter": result.n_iter, "loss": result.loss,
                   "gradientNorm": result.gradient_norm, "converged": result.converged}
        return self._copyValues(WeightedLinearRegressionModel(
            result.coefficients, result.intercept, summary))


class WeightedLinearRegressionModel(Model, _WeightedLinearRegressionParams, ArrayModelPersistence):
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
        return with_columns(dataset, self.getFeaturesCol(), fields,
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
