"""The spark.ml-style K-means: ``KMeans`` and its model, on the same blocks, seeding and
passes as the mixtures (``models.kmeans``), with row weights, restarts and a cost history.

Definitions as MLlib's where they agree: the distance measures (euclidean: the cost is
Σ w ‖x − c‖² to the nearest centre; cosine: Σ w (1 − cos(x, c)), the centres unit vectors),
k-means|| seeding, ``summary.trainingCost`` (the cost under the final centres),
``clusterSizes`` (rows, or weights with ``weightCol``) and the summary's ``predictions`` and
``cluster``. They differ in the stopping rule: here a fit stops when the cost falls by no more
than ``tol`` (MLlib: when no centre moves more than ``tol``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from pyspark import keyword_only
from pyspark.ml import Estimator
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.ml.param.shared import HasPredictionCol, HasSeed, HasWeightCol
from pyspark.sql.types import DoubleType, IntegerType, StructField

from spark_em.engine import ops
from spark_em.errors import InputError
from spark_em.io.matrix import read_dataframe
from spark_em.kernels import kmeans
from spark_em.ml.columns import check_rows
from spark_em.ml.fitted import FittedModel
from spark_em.ml.params import (
    HasBackend,
    HasFeaturesCol,
    HasIterationParams,
    HasVerbose,
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
from spark_em.models import seeding

# initMode's values (MLlib's spelling) and the seeding each names in models.kmeans
INIT_MODES = {"k-means||": seeding.PARALLEL, "k-means++": "kmeans++", "random": "random"}
DEFAULT_INIT_MODE = "k-means||"


class _KMeansParams(HasFeaturesCol, HasPredictionCol, HasIterationParams, HasSeed, HasWeightCol):
    k = Param(Params._dummy(), "k", "number of clusters (> 0)", gt("k", 0, TypeConverters.toInt))
    initMode = Param(
        Params._dummy(),
        "initMode",
        "seeding: k-means|| (MLlib's scalable k-means++: initSteps rounds), k-means++ "
        "(greedy, k + 1 passes) or random (k rows drawn uniformly)",
        in_array("initMode", INIT_MODES),
    )
    initSteps = Param(
        Params._dummy(),
        "initSteps",
        "rounds of k-means|| (> 0; one pass each)",
        gt("initSteps", 0, TypeConverters.toInt),
    )
    nInit = Param(
        Params._dummy(),
        "nInit",
        "restarts (>= 1); the lowest cost is kept",
        gt_eq("nInit", 1, TypeConverters.toInt),
    )
    distanceMeasure = Param(
        Params._dummy(),
        "distanceMeasure",
        "the distance measure: euclidean or cosine (1 - cos(x, c); unit centres)",
        in_array("distanceMeasure", kmeans.MEASURES),
    )
    distanceCol = Param(
        Params._dummy(),
        "distanceCol",
        "column for each row's distance to its centre (under distanceMeasure)",
        TypeConverters.toString,
    )

    def __init__(self, *args):
        super().__init__(*args)
        self._setDefault(
            k=2,
            initMode=DEFAULT_INIT_MODE,
            initSteps=seeding.INIT_STEPS,
            nInit=1,
            maxIter=20,
            tol=1e-4,
            seed=0,
            distanceMeasure=kmeans.EUCLIDEAN,
            distanceCol="distance",
        )

    def getK(self) -> int:
        """The number of clusters.

        Returns
        -------
        int
        """
        return self.getOrDefault(self.k)

    def getInitMode(self) -> str:
        """The seeding: ``"k-means||"``, ``"k-means++"`` or ``"random"``.

        Returns
        -------
        str
        """
        return self.getOrDefault(self.initMode)

    def getInitSteps(self) -> int:
        """The rounds of k-means|| seeding.

        Returns
        -------
        int
        """
        return self.getOrDefault(self.initSteps)

    def getNInit(self) -> int:
        """The restarts; the lowest cost is kept.

        Returns
        -------
        int
        """
        return self.getOrDefault(self.nInit)

    def getDistanceMeasure(self) -> str:
        """The distance measure: ``"euclidean"`` or ``"cosine"``.

        Returns
        -------
        str
        """
        return self.getOrDefault(self.distanceMeasure)

    def getDistanceCol(self) -> str:
        """The column ``transform`` writes each row's distance to its centre in.

        Returns
        -------
        str
        """
        return self.getOrDefault(self.distanceCol)


@dataclass(kw_only=True, repr=False)
class KMeansSummary(TrainingSummary):
    """A K-means fit's report, under the names of ``pyspark.ml.clustering.KMeansSummary``.

    Attributes
    ----------
    k : int
        The number of clusters.
    trainingCost : float
        The cost under the final centres: Σ w ‖x − c‖² (euclidean) or Σ w (1 − cos(x, c))
        (cosine) to the nearest centre.
    clusterSizes : list of float
        The rows of each cluster (the sum of their weights, with ``weightCol``).
    costHistory : list of float
        The cost after every pass (also ``objectiveHistory``).
    numIter, converged : int, bool
        The passes made, and whether the stopping rule was met.
    featuresCol, predictionCol : str or None
        The columns of ``predictions`` (None in a summary saved by an earlier version).
    predictions : DataFrame
        The training data with the model's output columns (a fitted model's summary only).
    cluster : DataFrame
        The ``predictionCol`` column of ``predictions``.

    Examples
    --------
    >>> summary = KMeans(k=3).fit(df).summary
    >>> summary.trainingCost, summary.clusterSizes, summary.numIter
    >>> summary.predictions.groupBy(summary.predictionCol).count()
    """

    objective: ClassVar[str] = "cost"

    k: int
    trainingCost: float
    clusterSizes: list[float]
    costHistory: list[float] = field(default_factory=list)
    featuresCol: str | None = None
    predictionCol: str | None = None
    _model: Any = field(default=None, init=False, repr=False, compare=False)
    _dataset: Any = field(default=None, init=False, repr=False, compare=False)

    def _attach(self, model, dataset) -> KMeansSummary:
        self._model, self._dataset = model, dataset
        return self

    @property
    def predictions(self):
        """The training data transformed by the model (``model.transform`` of it).

        Returns
        -------
        pyspark.sql.DataFrame

        Raises
        ------
        InputError
            On a loaded model's summary: the training data are not saved with it.
        """
        if self._dataset is None:
            raise InputError(
                "predictions need the training data, which a saved model does not keep: "
                "use model.transform(df)"
            )
        return self._model.transform(self._dataset)

    @property
    def cluster(self):
        """The cluster of each training row: ``predictions``' ``predictionCol`` column.

        Returns
        -------
        pyspark.sql.DataFrame
        """
        return self.predictions.select(self._model.getPredictionCol())


class KMeans(
    Tracked,
    HasVerbose,
    Estimator,
    _KMeansParams,
    HasBackend,
    MixtureSetters,
    DefaultParamsReadable,
    ParamsWritable,
):
    """K-means on a DataFrame column of vectors or arrays, with optional row weights.

    Params and defaults follow ``pyspark.ml.clustering.KMeans``: k=2, maxIter=20, tol=1e-4,
    ``distanceMeasure`` euclidean or cosine, and ``initMode="k-means||"`` with
    ``initSteps=2``. k-means|| is the default as in MLlib because its passes do not grow with
    k: ``initSteps`` + 2 (4), where greedy k-means++ makes k + 1. Measured on 200,000 rows
    × 10 columns around 20 centres, k=20, local[2] (``benchmarks/bench_kmeans_init.py``,
    five seeds, medians), when k-means++ still made 2k − 1 passes: seeding in 4 passes and
    4.3 s against 39 passes and 20.5 s, from
    a lower starting cost (2.8–3.3e6 against 4.0–4.5e6); after 20 Lloyd passes the costs
    overlap across seeds (2.17–2.83e6, mean 2.43e6, against 2.00–2.41e6, mean 2.25e6;
    MLlib's k-means|| 2.17–2.87e6). ``initMode="k-means++"`` remains for small k, or when a
    lower final cost is worth its passes. Beyond MLlib's: ``nInit`` restarts (restart r
    from seed + r, the lowest cost kept), greedy k-means++ (scikit-learn's), the row weights
    also in the seeding, and a ``distanceCol`` output.

    Parameters
    ----------
    k : int, default 2
        The number of clusters (> 0).
    maxIter : int, default 20
        The most passes of Lloyd's algorithm (>= 1).
    tol : float, default 1e-4
        The fit stops when the cost falls by no more than this (>= 0).
    seed : int, default 0
        The seed of the seeding draws (which do not depend on the partitioning).
    initMode : {"k-means||", "k-means++", "random"}, default "k-means||"
        The seeding: MLlib's k-means||, greedy k-means++, or k rows drawn uniformly; rows
        are drawn in proportion to their weight.
    initSteps : int, default 2
        The rounds of k-means|| (> 0), one pass each.
    nInit : int, default 1
        Restarts (>= 1); the lowest cost is kept.
    distanceMeasure : {"euclidean", "cosine"}, default "euclidean"
        MLlib's measures: ‖x − c‖ (the cost its square), or 1 − cos(x, c) (the cost the
        same; centres are unit vectors, and a zero-length row is refused).
    featuresCol, predictionCol, distanceCol : str
        The input column and the output columns of ``transform``.
    weightCol : str, optional
        A column of row weights (>= 0); an integer weight m counts as m copies of the row.
    backend : {"auto", "rdd", "dataframe"}, default "auto"
        Where the fit keeps the data.
    verbose : bool, default False
        Print one line per pass of every restart (seeding passes, then Lloyd's, with the
        cost) on stderr while fitting; the ``spark_em`` logger's lines.

    Examples
    --------
    >>> model = KMeans(k=3, weightCol="w", nInit=4, seed=1).fit(df)
    >>> model.clusterCenters(); model.summary.trainingCost
    >>> model.transform(df).select("prediction", "distance")
    >>> KMeans(k=3, distanceMeasure="cosine").fit(df).summary.cluster.show()
    """

    @keyword_only
    def __init__(
        self,
        *,
        k=2,
        maxIter=20,
        tol=1e-4,
        seed=0,
        initMode=DEFAULT_INIT_MODE,
        initSteps=seeding.INIT_STEPS,
        nInit=1,
        distanceMeasure=kmeans.EUCLIDEAN,
        featuresCol="features",
        predictionCol="prediction",
        distanceCol="distance",
        weightCol=None,
        backend="auto",
        verbose=False,
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
        initMode=DEFAULT_INIT_MODE,
        initSteps=seeding.INIT_STEPS,
        nInit=1,
        distanceMeasure=kmeans.EUCLIDEAN,
        featuresCol="features",
        predictionCol="prediction",
        distanceCol="distance",
        weightCol=None,
        backend="auto",
        verbose=False,
    ):
        """Set params by keyword (those of the constructor).

        Returns
        -------
        KMeans
            This estimator.
        """
        return self._set(**given(self._input_kwargs))

    def setInitMode(self, value: str):
        """Set ``initMode``: ``"k-means||"``, ``"k-means++"`` or ``"random"``.

        Parameters
        ----------
        value : str

        Returns
        -------
        KMeans
            This estimator.
        """
        return self._set(initMode=value)

    def setInitSteps(self, value: int):
        """Set ``initSteps``, the rounds of k-means|| (> 0).

        Parameters
        ----------
        value : int

        Returns
        -------
        KMeans
            This estimator.
        """
        return self._set(initSteps=value)

    def setNInit(self, value: int):
        """Set ``nInit``, the restarts (>= 1); the lowest cost is kept.

        Parameters
        ----------
        value : int

        Returns
        -------
        KMeans
            This estimator.
        """
        return self._set(nInit=value)

    def setDistanceMeasure(self, value: str):
        """Set ``distanceMeasure``: ``"euclidean"`` or ``"cosine"``.

        Parameters
        ----------
        value : str

        Returns
        -------
        KMeans
            This estimator.
        """
        return self._set(distanceMeasure=value)

    def setPredictionCol(self, value: str):
        """Set ``predictionCol``, the column of each row's cluster.

        Parameters
        ----------
        value : str

        Returns
        -------
        KMeans
            This estimator.
        """
        return self._set(predictionCol=value)

    def setDistanceCol(self, value: str):
        """Set ``distanceCol``, the column of each row's distance to its centre.

        Parameters
        ----------
        value : str

        Returns
        -------
        KMeans
            This estimator.
        """
        return self._set(distanceCol=value)

    def setWeightCol(self, value: str):
        """Set ``weightCol``, a column of row weights (>= 0).

        Parameters
        ----------
        value : str

        Returns
        -------
        KMeans
            This estimator.
        """
        return self._set(weightCol=value)

    def _fit(self, dataset) -> KMeansModel:
        weight = (
            self.getWeightCol() if self.isDefined(self.weightCol) and self.getWeightCol() else None
        )
        blocks = read_dataframe(
            dataset,
            self.getFeaturesCol(),
            ratings=False,
            param="featuresCol",
            backend=self._backend_arg(),
            weights=weight,
        )
        measure = self.getDistanceMeasure()
        try:
            run = kmeans_model.fit(
                blocks,
                self.getK(),
                self.getSeed(),
                init=INIT_MODES[self.getInitMode()],
                tol=self.getTol(),
                max_iter=self.getMaxIter(),
                n_init=self.getNInit(),
                distance_measure=measure,
                init_steps=self.getInitSteps(),
            )
            family = kmeans_model.family(distance_measure=measure)
            # its pass under the final centres: their cost
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
            featuresCol=self.getFeaturesCol(),
            predictionCol=self.getPredictionCol(),
        )
        warn_unconverged(self, summary)
        model = self._copyValues(KMeansModel(run.mixture.means, summary))
        summary._attach(model, dataset)
        model._remember_inputs(dataset)
        return model


class KMeansModel(FittedModel, _KMeansParams):
    """Fitted centres: ``clusterCenters()``, ``summary``; ``transform`` adds the nearest
    centre's index (``predictionCol``) and the distance to it (``distanceCol``), both under
    the model's ``distanceMeasure`` (a model saved before that param existed is euclidean).

    Parameters
    ----------
    centres : numpy.ndarray, optional
        The k × d centres (unit vectors for a cosine model).
    summary : KMeansSummary, optional
        The fit's report.

    Examples
    --------
    >>> model = KMeans(k=3).fit(df)
    >>> model.transform(df).select("prediction", "distance").show()
    >>> model.predict([0.5, 1.0, 2.0])
    >>> model.save("km"); KMeansModel.load("km").getDistanceMeasure()
    """

    summary_class = KMeansSummary
    key_params = ("k", "distanceMeasure")

    def __init__(self, centres: np.ndarray | None = None, summary: KMeansSummary | None = None):
        super().__init__(summary)
        self._centres = None if centres is None else np.asarray(centres, dtype=np.float64)

    def clusterCenters(self) -> list[np.ndarray]:
        """The centres, one array each (unit vectors for cosine).

        Returns
        -------
        list of numpy.ndarray
        """
        return [c.copy() for c in self._centres]

    def predict(self, value) -> int:
        """The nearest centre of one row under the model's ``distanceMeasure``.

        Parameters
        ----------
        value : pyspark.ml.linalg.Vector or sequence of float
            One row of the model's width.

        Returns
        -------
        int
            The index of the nearest centre (the first on ties).

        Raises
        ------
        InputError
            For a row of another width, with NaN or infinite values, or of zero length
            under the cosine measure.
        """
        row = np.asarray(getattr(value, "toArray", lambda: value)(), dtype=np.float64)
        measure = self.getDistanceMeasure()
        labels, _ = kmeans.nearest(
            _scorable(row.reshape(1, -1), self._centres, measure), self._centres, measure
        )
        return int(labels[0])

    def _outputs(self):
        centres, measure = self._centres, self.getDistanceMeasure()

        def compute(X):
            labels, cost = kmeans.nearest(_scorable(X, centres, measure), centres, measure)
            return labels, kmeans.distances(cost, measure)

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


def _scorable(X: np.ndarray, centres: np.ndarray, measure: str) -> np.ndarray:
    """``X`` if a model with these centres can score its rows: their width, finite values, and
    under the cosine measure no zero-length row."""
    check_rows(X, centres.shape[1])
    if measure == kmeans.COSINE and not kmeans.row_norms(X).all():
        raise InputError(
            "a row cannot be scored: it is a zero-length vector, for which the cosine "
            "distance is not defined"
        )
    return X
