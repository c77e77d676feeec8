"""The spark.ml-style K-means: ``KMeans`` and its model, on the same blocks, seeding and
passes as the mixtures (``models.kmeans``), with row weights, restarts and a cost history.

Definitions as MLlib's where they agree: the cost is Σ w ‖x − c‖² to the nearest centre,
``summary.trainingCost`` is that cost under the final centres, ``clusterSizes`` count rows
(weights, with ``weightCol``). They differ in the stopping rule: here a fit stops when the
cost falls by no more than ``tol`` (MLlib: when no centre moves more than ``tol``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
from pyspark import keyword_only
from pyspark.ml import Estimator
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.ml.param.shared import HasFeaturesCol, HasPredictionCol, HasSeed, HasWeightCol
from pyspark.sql.types import DoubleType, IntegerType, StructField

from spark_em.engine import ops
from spark_em.errors import InputError
from spark_em.io.matrix import read_dataframe
from spark_em.kernels import kmeans
from spark_em.ml.columns import check_rows
from spark_em.ml.fitted import FittedModel
from spark_em.ml.params import (
    HasBackend,
    HasIterationParams,
    MixtureSetters,
    given,
    gt,
    gt_eq,
    in_array,
)
from spark_em.ml.persistence import DefaultParamsReadable, ParamsWritable
from spark_em.ml.summary import TrainingSummary, warn_unconverged
from spark_em.ml.tracking import Tracked
from spark_em.models import kmeans as kmeans_model

INIT_MODES = {"k-means++": "kmeans++", "random": "random"}


class _KMeansParams(HasFeaturesCol, HasPredictionCol, HasIterationParams, HasSeed, HasWeightCol):
    k = Param(Params._dummy(), "k", "number of clusters (> 0)", gt("k", 0, TypeConverters.toInt))
    initMode = Param(
        Params._dummy(),
        "initMode",
        "seeding: k-means++ (greedy) or random rows",
        in_array("initMode", INIT_MODES),
    )
    nInit = Param(
        Params._dummy(),
        "nInit",
        "restarts (>= 1); the lowest cost is kept",
        gt_eq("nInit", 1, TypeConverters.toInt),
    )
    distanceCol = Param(
        Params._dummy(),
        "distanceCol",
        "column for each row's Euclidean distance to its centre",
        TypeConverters.toString,
    )

    def __init__(self, *args):
        super().__init__(*args)
        self._setDefault(
            k=2, initMode="k-means++", nInit=1, maxIter=20, tol=1e-4, seed=0, distanceCol="distance"
        )

    def getK(self) -> int:
        return self.getOrDefault(self.k)

    def getInitMode(self) -> str:
        return self.getOrDefault(self.initMode)

    def getNInit(self) -> int:
        return self.getOrDefault(self.nInit)

    def getDistanceCol(self) -> str:
        return self.getOrDefault(self.distanceCol)


@dataclass(kw_only=True, repr=False)
class KMeansSummary(TrainingSummary):
    """A fit's report: the cost after every pass (``costHistory``), ``trainingCost`` (under
    the final centres), ``clusterSizes``, ``numIter``, ``converged`` and ``k``."""

    objective: ClassVar[str] = "cost"

    k: int
    trainingCost: float
    clusterSizes: list[float]
    costHistory: list[float] = field(default_factory=list)


class KMeans(
    Tracked,
    Estimator,
    _KMeansParams,
    HasBackend,
    MixtureSetters,
    DefaultParamsReadable,
    ParamsWritable,
):
    """K-means on a DataFrame column of vectors or arrays, with optional row weights.

    Defaults follow ``pyspark.ml.clustering.KMeans`` (k=2, maxIter=20, tol=1e-4), with
    greedy k-means++ seeding in place of k-means||.

    >>> model = KMeans(k=3, weightCol="w", nInit=4, seed=1).fit(df)
    >>> model.clusterCenters(); model.summary.trainingCost
    >>> model.transform(df).select("prediction", "distance")
    """

    @keyword_only
    def __init__(
        self,
        *,
        k=2,
        maxIter=20,
        tol=1e-4,
        seed=0,
        initMode="k-means++",
        nInit=1,
        featuresCol="features",
        predictionCol="prediction",
        distanceCol="distance",
        weightCol=None,
        backend="auto",
    ):
        super().__init__()
        self._set(**given(self._input_kwargs))

    @keyword_only
    def setParams(
        self,
        *,
        k=2,
        maxIter=20,
        tol=1e-4,
        seed=0,
        initMode="k-means++",
        nInit=1,
        featuresCol="features",
        predictionCol="prediction",
        distanceCol="distance",
        weightCol=None,
        backend="auto",
    ):
        return self._set(**given(self._input_kwargs))

    def setInitMode(self, value: str):
        return self._set(initMode=value)

    def setNInit(self, value: int):
        return self._set(nInit=value)

    def setPredictionCol(self, value: str):
        return self._set(predictionCol=value)

    def setDistanceCol(self, value: str):
        return self._set(distanceCol=value)

    def setWeightCol(self, value: str):
        return self._set(weightCol=value)

    def _fit(self, dataset) -> KMeansModel:
        weight = (
            self.getWeightCol() if self.isDefined(self.weightCol) and self.getWeightCol() else None
        )
        blocks = read_dataframe(
            dataset,
            self.getFeaturesCol(),
            ratings=False,
            backend=self._backend_arg(),
            weights=weight,
        )
        try:
            run = kmeans_model.fit(
                blocks,
                self.getK(),
                self.getSeed(),
                init=INIT_MODES[self.getInitMode()],
                tol=self.getTol(),
                max_iter=self.getMaxIter(),
                n_init=self.getNInit(),
            )
            centres = run.mixture.means
            family = kmeans_model.family()  # its pass under the final centres: their cost
            stats = ops.aggregate(blocks, family.block_stats, family.add, run.mixture)
        finally:
            ops.release(blocks)
        summary = KMeansSummary(
            k=self.getK(),
            trainingCost=stats.cost_before,
            clusterSizes=stats.counts.tolist(),
            numIter=run.n_iter,
            converged=run.converged,
            costHistory=[h.objective for h in run.history],
        )
        warn_unconverged(self, summary)
        model = self._copyValues(KMeansModel(centres, summary))
        model._remember_inputs(dataset)
        return model


class KMeansModel(FittedModel, _KMeansParams):
    """Fitted centres: ``clusterCenters()``, ``summary``; ``transform`` adds the nearest
    centre's index and the distance to it."""

    summary_class = KMeansSummary
    key_params = ("k",)

    def __init__(self, centres: np.ndarray | None = None, summary: KMeansSummary | None = None):
        super().__init__(summary)
        self._centres = None if centres is None else np.asarray(centres, dtype=np.float64)

    def clusterCenters(self) -> list[np.ndarray]:
        return [c.copy() for c in self._centres]

    def predict(self, value) -> int:
        """The nearest centre of one row (a vector or a list)."""
        row = np.asarray(getattr(value, "toArray", lambda: value)(), dtype=np.float64)
        return int(
            kmeans.nearest(_checked(row.reshape(1, -1), self._centres.shape[1]), self._centres)[0][
                0
            ]
        )

    def _outputs(self):
        centres = self._centres
        d = centres.shape[1]

        def compute(X):
            labels, sq = kmeans.nearest(_checked(X, d), centres)
            return labels, np.sqrt(sq)

        fields = [
            StructField(self.getPredictionCol(), IntegerType()),
            StructField(self.getDistanceCol(), DoubleType()),
        ]
        return fields, compute

    def _example_rows(self) -> np.ndarray:
        return self._centres

    def _arrays(self) -> dict:
        return {"centers": self._centres}

    @classmethod
    def _from_saved(cls, arrays: dict, extra: dict) -> KMeansModel:
        centres = arrays.get("centers")
        if centres is None or centres.ndim != 2 or not np.isfinite(centres).all():
            raise InputError("the saved model is incomplete or inconsistent (no finite centres)")
        return cls(centres)


def _checked(X: np.ndarray, d: int) -> np.ndarray:
    return check_rows(X, d)
