"""Gaussian mixtures that learn from a Structured Streaming query: ``StreamingGaussianMixture``.

Each micro-batch is one stepwise EM update (``GaussianMixtureModel.partialFit``) of the model
kept at ``modelPath`` (``spark_em.ml.versions``): the batch reads the latest version, updates
it with its rows and saves the result as the version of its batch id. Structured Streaming
replays the batch a failure interrupted with the same id and the same rows; a version of
that id (or a later one) already saved means the update was made, and it is not made
twice. So a query stopped and restarted from its checkpoint ends with the model of a run
that never stopped. Nothing lives in the client: under Spark Connect the updates run in the
server's ``foreachBatch`` and the model is read back from ``modelPath``.
"""

from __future__ import annotations

from pyspark import keyword_only
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.ml.param.shared import HasPredictionCol, HasProbabilityCol, HasSeed, HasWeightCol

from spark_em.engine import ops
from spark_em.errors import InputError
from spark_em.io.matrix import read_dataframe
from spark_em.kernels import gaussian
from spark_em.ml import versions
from spark_em.ml.gaussian import (
    MIXTURE_DEFAULTS,
    GaussianMixture,
    GaussianMixtureModel,
    _GaussianMixtureParams,
)
from spark_em.ml.params import HasFeaturesCol, HasStepParams, MixtureSetters, given
from spark_em.models import gaussian as gaussian_model

DEFAULT_DECAY = 0.6


class HasModelPath(Params):
    """The ``modelPath`` of a streaming trainer: where its model's versions are kept."""

    modelPath = Param(
        Params._dummy(),
        "modelPath",
        "where the evolving model is kept (a directory or any URI Spark can write)",
        TypeConverters.toString,
    )

    def getModelPath(self) -> str:
        """Gets the value of modelPath.

        Returns
        -------
        str
            Where the model is kept (an ``InputError`` when it is not set).
        """
        if not self.isDefined(self.modelPath) or not self.getOrDefault(self.modelPath):
            raise InputError("modelPath must be set: the directory or URI the model is kept in")
        return self.getOrDefault(self.modelPath)

    def setModelPath(self, value: str):
        """Sets the value of :py:attr:`modelPath`."""
        return self._set(modelPath=value)


class _StreamingParams(
    HasFeaturesCol,
    HasPredictionCol,
    HasProbabilityCol,
    HasSeed,
    HasWeightCol,
    HasStepParams,
    HasModelPath,
):
    k = _GaussianMixtureParams.k
    covarianceType = _GaussianMixtureParams.covarianceType
    initMode = _GaussianMixtureParams.initMode
    regCovar = _GaussianMixtureParams.regCovar
    missingValue = _GaussianMixtureParams.missingValue
    initialModel = _GaussianMixtureParams.initialModel
    logLikelihoodCol = _GaussianMixtureParams.logLikelihoodCol
    imputedCol = _GaussianMixtureParams.imputedCol

    def __init__(self, *args):
        super().__init__(*args)
        self._setDefault(**MIXTURE_DEFAULTS, stepDecay=DEFAULT_DECAY)

    getK = _GaussianMixtureParams.getK
    getCovarianceType = _GaussianMixtureParams.getCovarianceType
    getInitMode = _GaussianMixtureParams.getInitMode
    getRegCovar = _GaussianMixtureParams.getRegCovar
    getMissingValue = _GaussianMixtureParams.getMissingValue
    getInitialModel = _GaussianMixtureParams.getInitialModel
    _missing_arg = _GaussianMixtureParams._missing_arg
    _weight_arg = _GaussianMixtureParams._weight_arg


class StreamingGaussianMixture(_StreamingParams):
    """A Gaussian mixture that learns from a streaming DataFrame by stepwise EM, one update
    per micro-batch, its model kept at ``modelPath``.

    ``trainOn`` starts the query; ``latestModel`` reads the model as it stands;
    ``predictOn`` adds the model's outputs to a streaming DataFrame. The first micro-batch
    starts from ``initialModel`` when it is set, else from ``initMode`` (k-means++) on its own
    rows, and updates that start with its rows. The step after t updates is
    (t + 2)^(−stepDecay) (Liang & Klein's mini-batch stepwise EM); with ``halfLife`` (rows),
    a constant step under which rows that many rows old weigh half, to follow data that
    drift. Each update is exactly once per batch id (see the module's docstring).

    Parameters
    ----------
    k : int, default 2
        Components.
    covarianceType : {"full", "tied", "diag", "spherical"}, default "full"
        The components' covariances.
    featuresCol : str or list of str, default "features"
        A column of vectors or numeric arrays, or numeric columns (one feature each).
    weightCol : str, optional
        Each row's weight.
    missingValue : {"none", "nan", "zero"}, default "none"
        What marks a missing value (exact EM for incomplete data, as in batch fits).
    regCovar : float, default 1e-6
        Added to the variances, as in batch fits.
    seed : int, default 0
        The seed of the first batch's start.
    initialModel : GaussianMixtureModel, Mixture or dict, optional
        Where the first batch starts (its K and covariance type are the model's).
    stepDecay : float, default 0.6
        α in (0.5, 1] of the step (t + 2)^(−α).
    halfLife : float, optional
        Rows (or units of weight) after which a batch's statistics weigh half; overrides
        ``stepDecay``.
    modelPath : str
        Where the model's versions are kept: any directory or URI Spark can write.
    initMode : {"kmeans++", "random", "reference"}, default "kmeans++"
        The first batch's start when there is no ``initialModel``.
    predictionCol, probabilityCol : str, default "prediction", "probability"
        The columns ``predictOn`` adds (through the model's ``transform``).

    Examples
    --------
    >>> from spark_em.ml import StreamingGaussianMixture
    >>> stream = spark.readStream.schema("features array<double>").parquet("incoming/")
    >>> trainer = StreamingGaussianMixture(k=5, modelPath="models/live", halfLife=1e6)
    >>> query = trainer.trainOn(stream, "checkpoints/live", trigger={"availableNow": True})
    >>> query.awaitTermination()
    >>> trainer.latestModel().means
    >>> trainer.predictOn(stream).writeStream.format("console").start()
    """

    @keyword_only
    def __init__(
        self,
        *,
        k: int = 2,
        covarianceType: str = "full",
        featuresCol="features",
        weightCol: str | None = None,
        missingValue: str = "none",
        regCovar: float = gaussian.REG_COVAR,
        seed: int = 0,
        initialModel=None,
        stepDecay: float = DEFAULT_DECAY,
        halfLife: float | None = None,
        modelPath: str | None = None,
        initMode: str = "kmeans++",
        predictionCol: str = "prediction",
        probabilityCol: str = "probability",
    ):
        super().__init__()
        self._set(**given(self._input_kwargs))

    # the setters of the estimator's params, as the estimator has them
    setK = MixtureSetters.setK
    setSeed = MixtureSetters.setSeed
    setFeaturesCol = MixtureSetters.setFeaturesCol
    setCovarianceType = GaussianMixture.setCovarianceType
    setWeightCol = GaussianMixture.setWeightCol
    setMissingValue = GaussianMixture.setMissingValue
    setRegCovar = GaussianMixture.setRegCovar
    setInitialModel = GaussianMixture.setInitialModel
    setInitMode = GaussianMixture.setInitMode
    setPredictionCol = GaussianMixture.setPredictionCol
    setProbabilityCol = GaussianMixture.setProbabilityCol

    def trainOn(self, dataset, checkpointLocation: str, trigger: dict | None = None):
        """Start a query that updates the model with every micro-batch of ``dataset``.

        Parameters
        ----------
        dataset : pyspark.sql.DataFrame
            A streaming DataFrame with ``featuresCol`` (and ``weightCol`` when set).
        checkpointLocation : str
            The query's checkpoint: restarting from it goes on where it stopped.
        trigger : dict, optional
            ``DataStreamWriter.trigger``'s keyword arguments, such as
            ``{"availableNow": True}`` or ``{"processingTime": "1 minute"}``.

        Returns
        -------
        pyspark.sql.streaming.StreamingQuery
            The running query.
        """
        self._check_initial()
        return started(self, dataset, checkpointLocation, trigger)

    def latestModel(self) -> GaussianMixtureModel:
        """The model as the latest micro-batch left it at ``modelPath``.

        Returns
        -------
        GaussianMixtureModel
            The newest complete version (an ``InputError`` when no batch has been learnt
            yet).
        """
        return latest(self)

    def predictOn(self, dataset):
        """``dataset`` (streaming or not) with the outputs of the latest model's
        ``transform``: the model at the time of the call.

        Parameters
        ----------
        dataset : pyspark.sql.DataFrame
            Rows in ``featuresCol``.

        Returns
        -------
        pyspark.sql.DataFrame
            ``dataset`` with ``predictionCol``, ``probabilityCol`` and the log-likelihood.
        """
        return self.latestModel().transform(dataset)

    def _check_initial(self) -> None:
        kind = self.getCovarianceType()
        if kind == "factor" or (self.getInitialModel() or {}).get("covarianceType") == "factor":
            raise InputError(
                "covarianceType factor (a mixture of factor analysers) is not updated "
                "stepwise: fit it with GaussianMixture"
            )
        given_model = self.getInitialModel()
        if given_model is None:
            return
        for name, wanted in (
            ("k", len(given_model["weights"])),
            ("covarianceType", given_model["covarianceType"]),
        ):
            value = self.getOrDefault(name)
            if self.isSet(getattr(self, name)) and value != wanted:
                raise InputError(f"{name}={value!r} differs from the initial model's {wanted!r}")

    _model_class = GaussianMixtureModel
    _keeps_model = True  # a model it saved holds no data: the next batch may reuse it

    def _update(self, model: GaussianMixtureModel, batch) -> GaussianMixtureModel | None:
        """``model`` updated with ``batch``'s rows, or None when it has none."""
        return model._updated(batch)

    def _first(self, batch) -> GaussianMixtureModel | None:
        """The model after the first (non-empty) batch: its start updated with its rows."""
        return self._update(self._start(batch), batch)

    def _saved(self, model: GaussianMixtureModel) -> None:
        """What follows the save of a version: nothing (the model holds no data)."""

    def _settings_on(self, model: GaussianMixtureModel) -> GaussianMixtureModel:
        """``model`` (the latest version) with this trainer's settings, so that a query
        restarted with another step, column or regCovar uses them; a K or covariance type
        other than the model's is refused."""
        for name in ("k", "covarianceType"):
            value, saved = self.getOrDefault(name), model.getOrDefault(name)
            if self.isSet(getattr(self, name)) and value != saved:
                raise InputError(
                    f"{name}={value!r} differs from the model at modelPath ({saved!r})"
                )
        model = model.copy()
        for name in (
            "featuresCol",
            "weightCol",
            "missingValue",
            "regCovar",
            "stepDecay",
            "halfLife",
            "predictionCol",
            "probabilityCol",
        ):
            if self.isDefined(getattr(self, name)):
                model._set(**{name: self.getOrDefault(name)})
            else:
                model.clear(getattr(model, name))
        return model

    def _start(self, batch) -> GaussianMixtureModel:
        """The model the first (non-empty) batch updates: the initial model, or a start drawn
        from the batch's rows as a batch fit draws it."""
        given_model = self.getInitialModel()
        if given_model is not None:
            mixture = gaussian.Mixture(
                given_model["weights"],
                given_model["means"],
                given_model["covariances"],
                given_model["covarianceType"],
            )
            k, kind = len(mixture.weights), mixture.covariance_type
            mixture = gaussian_model.check_given(mixture, k, len(mixture.means[0]), kind)
        else:
            blocks = read_dataframe(
                batch,
                self.getOrDefault(self.featuresCol),
                ratings=False,
                param="featuresCol",
                missing=self._missing_arg(),
                weights=self._weight_arg(),
            )
            try:
                summary = ops.summarize(blocks)
                (mixture,) = gaussian_model.initial_mixtures(
                    blocks,
                    [(self.getK(), self.getOrDefault(self.seed))],
                    self.getInitMode(),
                    self.getCovarianceType(),
                    summary,
                    self.getRegCovar(),
                )
            finally:
                ops.release(blocks)
        model = self._copyValues(GaussianMixtureModel(mixture, rowsSeen=0.0))
        return model._set(k=len(mixture.weights), covarianceType=mixture.covariance_type)


def started(trainer, dataset, checkpointLocation: str, trigger: dict | None):
    """The query of ``trainer.trainOn``: a ``foreachBatch`` of ``_BatchUpdate``, its paths
    checked."""
    if not getattr(dataset, "isStreaming", False):
        raise InputError("trainOn needs a streaming DataFrame (spark.readStream…)")
    if not checkpointLocation:
        raise InputError("checkpointLocation must be set: where the query's progress is kept")
    model_path = trainer.getModelPath().rstrip("/")
    checkpoint = str(checkpointLocation).rstrip("/")
    if model_path == checkpoint or (model_path + "/").startswith(checkpoint + "/"):
        raise InputError("modelPath must lie outside checkpointLocation")
    if checkpoint.startswith(model_path + "/"):
        raise InputError("checkpointLocation must lie outside modelPath")
    writer = (
        dataset.writeStream.foreachBatch(_BatchUpdate(trainer.copy()))
        .option("checkpointLocation", checkpointLocation)
        .queryName(f"spark-em {trainer.uid}")
    )
    if trigger:
        writer = writer.trigger(**trigger)
    return writer.start()


def latest(trainer):
    """``trainer.latestModel()``: the newest complete version at its ``modelPath``."""
    from pyspark.sql import SparkSession

    spark = SparkSession.active()
    path = trainer.getModelPath()
    ids = versions.complete_versions(spark, path)
    if not ids:
        raise InputError(f"{path} holds no model yet: no micro-batch has been learnt")
    return versions.load_version(spark, trainer._model_class, path, ids[-1])


class _BatchUpdate:
    """``foreachBatch``'s function: one update of the model at ``modelPath`` per batch id,
    exactly once, by the trainer's ``_start``, ``_settings_on`` and ``_update``. Keeps the
    last version it read or wrote when the trainer's models allow it (``_keeps_model``), so a
    query that is the only writer reads the model back only to list the versions."""

    def __init__(self, trainer):
        self.trainer = trainer
        self.kept: tuple[int, object] | None = None

    def __call__(self, batch, batch_id: int) -> None:
        trainer, spark = self.trainer, batch.sparkSession
        path = trainer.getModelPath()
        ids = versions.complete_versions(spark, path)
        if ids and ids[-1] == batch_id:
            return  # this batch's update was saved before the query stopped: not twice
        if ids and ids[-1] > batch_id:
            raise InputError(
                f"{path} holds the model of batch {ids[-1]}, later than this query's batch "
                f"{batch_id}: another query writes there, or this checkpoint is new; give "
                "each checkpoint its own modelPath"
            )
        if ids:
            model = (
                self.kept[1]
                if self.kept is not None and self.kept[0] == ids[-1]
                else versions.load_version(spark, trainer._model_class, path, ids[-1])
            )
            model = trainer._settings_on(model)
            updated = trainer._update(model, batch)
        else:
            updated = None if batch.isEmpty() else trainer._first(batch)
        if updated is None:
            return  # an empty micro-batch changes nothing
        versions.save_version(spark, updated, path, batch_id, ids)
        trainer._saved(updated)
        self.kept = (batch_id, updated) if trainer._keeps_model else None
