"""The recommender that learns from a Structured Streaming query of ratings:
``StreamingMixtureRecommender``.

Each micro-batch of (user, item, rating) rows is one ``MixtureRecommenderModel.partialFit``
of the model kept at ``modelPath``, saved as the version of its batch id with the same
exactly-once bookkeeping as ``StreamingGaussianMixture`` (``spark_em.ml.streaming``). A
version is a whole saved recommender, its training ratings included, so every micro-batch
reads the ratings as blocks and writes them again: its cost grows with the ratings held, which
suits a trigger of hours or a day, not seconds.
"""

from __future__ import annotations

from pyspark import keyword_only
from pyspark.ml.param import Param, Params, TypeConverters

from spark_em.errors import InputError
from spark_em.kernels import masked
from spark_em.ml.masked import N_INIT, PRIOR_STRENGTH
from spark_em.ml.params import MixtureSetters, given
from spark_em.ml.recommender import MixtureRecommender, MixtureRecommenderModel, _RecommenderParams
from spark_em.ml.streaming import HasModelPath, latest, started


class StreamingMixtureRecommender(_RecommenderParams, HasModelPath):
    """A ``MixtureRecommender`` that learns from a streaming DataFrame of ratings, one
    ``partialFit`` per micro-batch, its model kept at ``modelPath``.

    The first micro-batch updates the model saved at ``initialModelPath`` when it is set, or
    else is fitted by batch EM with the estimator's params (``k``, ``nInit``, ``seed``, …).
    Every later one updates the latest version with its ratings by incremental EM
    (``MixtureRecommenderModel.partialFit``): known or new users, known or new items; a
    (user, item) pair the model already holds stops the query with an error naming it. Each
    update is made exactly once per batch id, and a query stopped and restarted from its
    checkpoint ends with the model of a run that never stopped.

    Parameters
    ----------
    userCol, itemCol, ratingCol : str, default "user", "item", "rating"
        The columns of the stream's rating rows.
    k : int, default 12
        User types, when the first batch is fitted.
    nInit, seed, maxIter, tol, initMode
        How the first batch is fitted, as ``MixtureRecommender`` fits.
    minVariance : float, default 0.25
        The variance floor of every update.
    priorStrength : float, default 1.0
        The prior on the item means of every update, as ``MixtureRecommender``'s.
    predictionCol : str, default "prediction"
        The column ``predictOn`` adds.
    coldStartStrategy : {"nan", "drop"}, default "nan"
        ``predictOn``'s pairs with a user or item the model does not know, as ALS.
    modelPath : str
        Where the model's versions are kept: any directory or URI Spark can write.
    initialModelPath : str, optional
        A saved ``MixtureRecommenderModel`` the first batch updates.

    Examples
    --------
    >>> from spark_em.ml import MixtureRecommender, StreamingMixtureRecommender
    >>> MixtureRecommender(userCol="userId", itemCol="movieId").fit(history).save("models/r0")
    >>> stream = spark.readStream.schema("userId long, movieId long, rating double")
    >>> trainer = StreamingMixtureRecommender(
    ...     userCol="userId", itemCol="movieId", modelPath="models/live",
    ...     initialModelPath="models/r0",
    ... )
    >>> query = trainer.trainOn(stream.parquet("ratings/"), "checkpoints/live",
    ...                         trigger={"processingTime": "1 day"})
    >>> trainer.latestModel().recommendForAllUsers(10)
    """

    initialModelPath = Param(
        Params._dummy(),
        "initialModelPath",
        "a saved MixtureRecommenderModel the first micro-batch updates (else the first "
        "micro-batch is fitted by batch EM)",
        TypeConverters.toString,
    )

    @keyword_only
    def __init__(
        self,
        *,
        userCol="user",
        itemCol="item",
        ratingCol="rating",
        k=12,
        nInit=N_INIT,
        seed=0,
        maxIter=1000,
        tol=1e-6,
        initMode="kmeans++",
        minVariance=masked.MIN_VARIANCE,
        priorStrength=PRIOR_STRENGTH,
        predictionCol="prediction",
        coldStartStrategy="nan",
        modelPath=None,
        initialModelPath=None,
    ):
        super().__init__()
        self._set(**given(self._input_kwargs))

    setK = MixtureSetters.setK
    setSeed = MixtureSetters.setSeed
    setMaxIter = MixtureSetters.setMaxIter
    setTol = MixtureSetters.setTol
    setUserCol = MixtureRecommender.setUserCol
    setItemCol = MixtureRecommender.setItemCol
    setRatingCol = MixtureRecommender.setRatingCol
    setPredictionCol = MixtureRecommender.setPredictionCol
    setColdStartStrategy = MixtureRecommender.setColdStartStrategy

    def setInitialModelPath(self, value: str):
        """Sets the value of :py:attr:`initialModelPath`."""
        return self._set(initialModelPath=value)

    def trainOn(self, dataset, checkpointLocation: str, trigger: dict | None = None):
        """Start a query that updates the model with every micro-batch of ratings.

        Parameters
        ----------
        dataset : pyspark.sql.DataFrame
            A streaming DataFrame with ``userCol``, ``itemCol`` and ``ratingCol``.
        checkpointLocation : str
            The query's checkpoint: restarting from it goes on where it stopped.
        trigger : dict, optional
            ``DataStreamWriter.trigger``'s keyword arguments, such as
            ``{"availableNow": True}`` or ``{"processingTime": "1 day"}``.

        Returns
        -------
        pyspark.sql.streaming.StreamingQuery
            The running query.
        """
        return started(self, dataset, checkpointLocation, trigger)

    def latestModel(self) -> MixtureRecommenderModel:
        """The model as the latest micro-batch left it at ``modelPath``.

        Returns
        -------
        MixtureRecommenderModel
            The newest complete version (an ``InputError`` when no batch has been learnt
            yet). It reads its ratings from that version's directory, which the query removes
            two micro-batches later: to keep the model longer, save it elsewhere
            (``model.save``) and load that copy.
        """
        return latest(self)

    def predictOn(self, dataset):
        """``dataset`` (streaming or not) with the latest model's predicted rating of each
        (user, item) pair: the model at the time of the call, which reads its ratings from
        its version at ``modelPath`` (kept for two more micro-batches of the training query;
        see ``latestModel``).

        Parameters
        ----------
        dataset : pyspark.sql.DataFrame
            Pairs in ``userCol`` and ``itemCol``.

        Returns
        -------
        pyspark.sql.DataFrame
            ``dataset`` with ``predictionCol``.
        """
        return self.latestModel().transform(dataset)

    _model_class = MixtureRecommenderModel
    _keeps_model = False  # a version's ratings are read back from where it was saved

    def _settings_on(self, model: MixtureRecommenderModel) -> MixtureRecommenderModel:
        """``model`` (the latest version) with this trainer's columns and update settings; a
        K other than the model's is refused."""
        if self.isSet(self.k) and self.getK() != model.getK():
            raise InputError(
                f"k={self.getK()} differs from the model at modelPath ({model.getK()})"
            )
        model = model.copy()
        for name in (
            "userCol",
            "itemCol",
            "ratingCol",
            "predictionCol",
            "coldStartStrategy",
            "minVariance",
            "priorStrength",
        ):
            model._set(**{name: self.getOrDefault(name)})
        return model

    def _update(self, model: MixtureRecommenderModel, batch) -> MixtureRecommenderModel | None:
        """``model`` updated with ``batch``'s ratings, or None when it has none."""
        if batch.isEmpty():
            return None
        try:
            return model.partialFit(batch)
        finally:
            model.unpersist()

    def _first(self, batch) -> MixtureRecommenderModel:
        """The model after the first (non-empty) batch: the initial model updated with it, or
        a batch fit of it."""
        if self.isDefined(self.initialModelPath) and self.getOrDefault(self.initialModelPath):
            path = self.getOrDefault(self.initialModelPath)
            initial = MixtureRecommenderModel.read().session(batch.sparkSession).load(path)
            return self._update(self._settings_on(initial), batch)
        estimator = MixtureRecommender()
        for param in estimator.params:
            if self.hasParam(param.name) and self.isDefined(param.name):
                estimator._set(**{param.name: self.getOrDefault(param.name)})
        return estimator.fit(batch)

    def _saved(self, model: MixtureRecommenderModel) -> None:
        """What follows the save of a version: its cached ratings freed."""
        model.unpersist()
