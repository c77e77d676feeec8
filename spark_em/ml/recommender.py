"""The masked mixture with ALS's interface: ``MixtureRecommender`` and its model.

It fits on long (user, item, rating) DataFrames of any id type, through the sparse blocks of
``io.triples`` and the masked mixture's EM, and answers as ``pyspark.ml.recommendation.ALS``
does: ``transform`` of (user, item) pairs, ``recommendForAllUsers``/``…UserSubset``,
``recommendForAllItems``/``…ItemSubset`` with ALS's output schema, ``coldStartStrategy``.

Differences from ALS, on purpose: recommendations leave out what was already rated (a user's
rated items; an item's raters), and users who were not in the training data are scored from
their own ratings with the parameters held fixed (``withNewUsers``,
``recommendForNewUsers``), with no refit; and new ratings of known or new users and items
update the parameters without a refit (``partialFit``). The model keeps the training ratings
(cached while it lives, saved with it as Parquet): the posteriors p(j|u) and the rated items
come from them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import pandas as pd
from pyspark import keyword_only
from pyspark.ml import Estimator
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.ml.param.shared import HasPredictionCol

from spark_em.engine.compat import try_cast
from spark_em.errors import InputError
from spark_em.io.triples import read_triples
from spark_em.kernels import masked
from spark_em.ml.fitted import FittedModel
from spark_em.ml.masked import (
    N_INIT,
    PRIOR_STRENGTH,
    MaskedFitParams,
    saved_stats,
    stats_arrays,
    stats_extra,
)
from spark_em.ml.params import (
    HasBackend,
    HasVerbose,
    MixtureSetters,
    in_array,
)
from spark_em.ml.persistence import DefaultParamsReadable, ParamsWritable
from spark_em.ml.summary import TrainingSummary, warn_unconverged
from spark_em.ml.tracking import Tracked
from spark_em.models import recommend
from spark_em.models.rating_updates import with_ratings

COLD_START = ("nan", "drop")
RATINGS = "ratings"  # the saved model's directory of training ratings (Parquet)


class _RecommenderParams(HasPredictionCol, MaskedFitParams):
    userCol = Param(
        Params._dummy(),
        "userCol",
        "column of user ids (numbers or strings)",
        TypeConverters.toString,
    )
    itemCol = Param(
        Params._dummy(),
        "itemCol",
        "column of item ids (numbers or strings)",
        TypeConverters.toString,
    )
    ratingCol = Param(
        Params._dummy(), "ratingCol", "column of ratings (numbers > 0)", TypeConverters.toString
    )
    coldStartStrategy = Param(
        Params._dummy(),
        "coldStartStrategy",
        "pairs with a user or item the model does not know: nan (NaN "
        "prediction) or drop (the row is left out), as ALS",
        in_array("coldStartStrategy", COLD_START),
    )

    def __init__(self, *args):
        super().__init__(*args)
        self._setDefault(
            userCol="user",
            itemCol="item",
            ratingCol="rating",
            coldStartStrategy="nan",
        )

    def getUserCol(self) -> str:
        """Gets the value of userCol or its default value."""
        return self.getOrDefault(self.userCol)

    def getItemCol(self) -> str:
        """Gets the value of itemCol or its default value."""
        return self.getOrDefault(self.itemCol)

    def getRatingCol(self) -> str:
        """Gets the value of ratingCol or its default value."""
        return self.getOrDefault(self.ratingCol)

    def getColdStartStrategy(self) -> str:
        """Gets the value of coldStartStrategy or its default value."""
        return self.getOrDefault(self.coldStartStrategy)


class MixtureRecommender(
    Tracked,
    HasVerbose,
    Estimator,
    _RecommenderParams,
    HasBackend,
    MixtureSetters,
    DefaultParamsReadable,
    ParamsWritable,
):
    """Matrix completion by a masked Gaussian mixture, as an ALS-style recommender.

    Each user belongs to one of ``k`` types with some probability; a type rates each item
    around its own mean, with one variance per type. Defaults are made for sparse ratings:
    four starts (``nInit``) drawn by k-means++ over the users' observed ratings with unrated
    items at the item's mean (``initMode="kmeans++"``), and a prior on each type's item
    means centred on the item's mean rating and worth one rating (``priorStrength=1``), so a
    type that rated an item little keeps a mean near the item's mean instead of a value no
    rating supports. ``initMode="reference", priorStrength=0, nInit=1`` is the course's
    exact EM. K=12, tol 1e-6 relative, up to 1000 iterations, variance floor 0.25. A fit
    that ends degenerate (a type with less than one user's weight, means outside the
    ratings' range) warns (``DegenerateFitWarning``) and lists it in ``summary.warnings``.

    Parameters
    ----------
    userCol : str, default "user"
        Column name for user ids (numbers or strings).
    itemCol : str, default "item"
        Column name for item ids (numbers or strings).
    ratingCol : str, default "rating"
        Column name for ratings (numbers > 0; 0 would mark a missing entry).
    predictionCol : str, default "prediction"
        Prediction column name: the predicted rating of each (user, item) pair.
    k : int, default 12
        Number of user types, the mixture's components (> 0).
    seed : int, default 0
        Random seed: start r of ``nInit`` starts from ``seed + r``.
    nInit : int, default 4
        Starts (seeds seed, seed+1, …), fitted in the same passes over the data; the best
        log-likelihood is kept.
    maxIter : int, default 1000
        Max number of iterations (>= 1); a fit stopped there warns
        (``ConvergenceWarning``).
    tol : float, default 1e-6
        The convergence tolerance for iterative algorithms (>= 0): EM stops when the
        objective changes by at most ``tol`` relative to its value.
    minVariance : float, default 0.25
        The variance floor (> 0): no type's variance falls below it.
    initMode : {"kmeans++", "reference"}, default "kmeans++"
        The start: kmeans++ (user rows drawn by k-means++ over their observed ratings,
        unrated items started at the item's mean rating) or reference (the course's: user
        rows as they are, 0 for unrated items).
    priorStrength : float, default 1.0
        A normal prior on each type's item means, centred on the item's mean rating, worth
        this many ratings (>= 0; 0: the course's M-step, no prior).
    coldStartStrategy : {"nan", "drop"}, default "nan"
        Strategy for dealing with unknown or new users/items at prediction time, as ALS's:
        ``nan`` gives a NaN prediction, ``drop`` leaves the row out (so
        ``RegressionEvaluator`` gets a defined metric in a cross-validation).
    backend : {"auto", "rdd", "dataframe"}, default "auto"
        Where ``fit`` keeps the data: ``auto`` takes RDD blocks in a classic session and
        the DataFrame backend under Spark Connect.
    verbose : bool, default False
        Log one line per iteration to the ``spark_em`` logger (shown on stderr while
        fitting); or configure ``logging.getLogger('spark_em')`` at INFO.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> means = rng.integers(1, 6, size=(3, 40))  # 3 user types, 40 items
    >>> rows = [
    ...     (u, i, float(means[u % 3, i]))
    ...     for u in range(150)
    ...     for i in range(40)
    ...     if rng.random() < 0.3
    ... ]
    >>> ratings = spark.createDataFrame(rows, ["userId", "movieId", "rating"])
    >>> train, test = ratings.randomSplit([0.8, 0.2], seed=1)
    >>> from pyspark.ml.evaluation import RegressionEvaluator
    >>> from spark_em.ml import MixtureRecommender
    >>> rec = MixtureRecommender(
    ...     userCol="userId", itemCol="movieId", ratingCol="rating", k=3, coldStartStrategy="drop"
    ... )
    >>> model = rec.fit(train)
    >>> RegressionEvaluator(labelCol="rating").evaluate(model.transform(test))
    >>> model.recommendForAllUsers(5).show(3, truncate=False)

    The course's exact EM, for comparison:

    >>> course = rec.copy().setParams(initMode="reference", priorStrength=0.0, nInit=1)
    >>> course.fit(train).summary.warnings  # what makes that fit untrustworthy, if anything
    """

    @keyword_only
    def __init__(
        self,
        *,
        userCol="user",
        itemCol="item",
        ratingCol="rating",
        predictionCol="prediction",
        k=12,
        seed=0,
        nInit=N_INIT,
        maxIter=1000,
        tol=1e-6,
        minVariance=masked.MIN_VARIANCE,
        initMode="kmeans++",
        priorStrength=PRIOR_STRENGTH,
        coldStartStrategy="nan",
        backend="auto",
        verbose=False,
    ):
        super().__init__()
        self._set(**self._input_kwargs)

    @keyword_only
    def setParams(
        self,
        *,
        userCol="user",
        itemCol="item",
        ratingCol="rating",
        predictionCol="prediction",
        k=12,
        seed=0,
        nInit=N_INIT,
        maxIter=1000,
        tol=1e-6,
        minVariance=masked.MIN_VARIANCE,
        initMode="kmeans++",
        priorStrength=PRIOR_STRENGTH,
        coldStartStrategy="nan",
        backend="auto",
        verbose=False,
    ):
        """Sets the params given as keywords (the constructor's; see the class's
        Parameters); the others keep their values.

        Returns
        -------
        MixtureRecommender
            This estimator.
        """
        return self._set(**self._input_kwargs)

    def setUserCol(self, value: str):
        """Sets the value of :py:attr:`userCol`."""
        return self._set(userCol=value)

    def setItemCol(self, value: str):
        """Sets the value of :py:attr:`itemCol`."""
        return self._set(itemCol=value)

    def setRatingCol(self, value: str):
        """Sets the value of :py:attr:`ratingCol`."""
        return self._set(ratingCol=value)

    def setPredictionCol(self, value: str):
        """Sets the value of :py:attr:`predictionCol`."""
        return self._set(predictionCol=value)

    def setColdStartStrategy(self, value: str):
        """Sets the value of :py:attr:`coldStartStrategy`."""
        return self._set(coldStartStrategy=value)

    def _fit(self, dataset) -> MixtureRecommenderModel:
        names = [self.getUserCol(), self.getItemCol(), self.getRatingCol()]
        missing = [c for c in names if c not in dataset.columns]
        if missing:
            raise InputError(
                f"no column {', '.join(map(repr, missing))}; the DataFrame has "
                f"{', '.join(dataset.columns)}"
            )
        ratings = dataset.select(*names)
        data = read_triples(ratings, *names, backend=self._backend_arg())
        run, problems, stats = self._fitted_run(data.blocks)
        summary = MixtureRecommenderSummary(
            logLikelihood=run.log_likelihood,
            numIter=run.n_iter,
            converged=run.converged,
            seed=run.seed,
            logLikelihoodHistory=[h.objective for h in run.history],
            numRatings=data.n_ratings,
            numUsers=len(data.index.users),
            numItems=len(data.index.items),
            warnings=problems,
        )
        warn_unconverged(self, summary)
        model = MixtureRecommenderModel(
            run.mixture, data.index.items, ratings, summary, tuple(names), stats
        )
        model._data = data
        return self._copyValues(model)


@dataclass(kw_only=True, repr=False)
class MixtureRecommenderSummary(TrainingSummary):
    """A fit's report: ``logLikelihood`` (of the training ratings under the final model),
    ``logLikelihoodHistory`` (the objective after every iteration: the log-likelihood, plus
    the prior's log-density when ``priorStrength`` > 0), iterations, convergence, the seed of
    the start kept, the ratings, users and items fitted, and ``warnings``: what makes the fit
    untrustworthy (a user type with less than one user's weight, item means outside the
    observed ratings' range), each also raised as a ``DegenerateFitWarning``.

    Attributes
    ----------
    logLikelihood : float
        The training ratings' log-likelihood under the final model.
    logLikelihoodHistory : list of float
        The objective after every iteration of the start kept (``objectiveHistory``).
    seed : int
        The seed of the start kept.
    numRatings, numUsers, numItems : int
        The ratings, users and items fitted.
    warnings : list of str
        What makes the fit untrustworthy (empty when nothing does).
    numIter : int
        The iterations the start kept made.
    converged : bool
        Whether its stopping rule was met.

    Examples
    --------
    >>> from spark_em.ml import MixtureRecommender  # ratings: the estimator's example
    >>> rec = MixtureRecommender(userCol="userId", itemCol="movieId", k=3)
    >>> summary = rec.fit(ratings).summary
    >>> summary.numUsers, summary.numItems, summary.numRatings
    >>> summary.logLikelihood, summary.seed, summary.warnings
    """

    objective: ClassVar[str] = "logLikelihood"

    logLikelihood: float
    logLikelihoodHistory: list[float]
    seed: int
    numRatings: int
    numUsers: int
    numItems: int
    warnings: list[str] = field(default_factory=list)


class MixtureRecommenderModel(FittedModel, _RecommenderParams):
    """A fitted recommender: ``weights``, ``means``, ``variances``, ``summary``, ``transform``
    and the ``recommendFor…`` methods of ALS's model, plus ``withNewUsers`` and
    ``recommendForNewUsers``.

    Made by ``MixtureRecommender.fit`` or read by ``MixtureRecommenderModel.load``. It keeps
    the training ratings (cached while it is used, saved with it): the users' posteriors and
    rated items come from them.

    Parameters
    ----------
    mixture : kernels.masked.SphericalMixture, optional
        The fitted weights, means (one column per item) and variances.
    items : numpy.ndarray, optional
        The item ids, in the order of the means' columns.
    ratings : pyspark.sql.DataFrame, optional
        The training ratings (user, item and rating columns).
    summary : MixtureRecommenderSummary, optional
        The summary of the fit.
    columns : tuple of str, default ("user", "item", "rating")
        The names of ``ratings``' user, item and rating columns.
    stats : kernels.masked.MaskedStats, optional
        The statistics of ``ratings`` that ``partialFit`` updates.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> means = rng.integers(1, 6, size=(3, 40))  # 3 user types, 40 items
    >>> rows = [
    ...     (u, i, float(means[u % 3, i]))
    ...     for u in range(150)
    ...     for i in range(40)
    ...     if rng.random() < 0.3
    ... ]
    >>> ratings = spark.createDataFrame(rows, ["userId", "movieId", "rating"])
    >>> train, test = ratings.randomSplit([0.8, 0.2], seed=1)
    >>> from spark_em.ml import MixtureRecommender, MixtureRecommenderModel
    >>> model = MixtureRecommender(
    ...     userCol="userId", itemCol="movieId", ratingCol="rating", k=3
    ... ).fit(train)
    >>> model.transform(test).show(3)
    >>> model.recommendForUserSubset(test.select("userId").distinct().limit(2), 5).show()
    >>> model.recommendForAllItems(3).show(3, truncate=False)
    >>> new = spark.createDataFrame([(1000, 0, 5.0), (1000, 1, 1.0)], train.columns)
    >>> model.recommendForNewUsers(new, 5).show(truncate=False)
    >>> model.write().overwrite().save("models/rec")
    >>> MixtureRecommenderModel.load("models/rec").recommendForAllUsers(5).count()
    150
    """

    summary_class = MixtureRecommenderSummary
    key_params = ("k", "userCol", "itemCol", "ratingCol")

    def __init__(
        self,
        mixture: masked.SphericalMixture | None = None,
        items: np.ndarray | None = None,
        ratings=None,
        summary: MixtureRecommenderSummary | None = None,
        columns: tuple[str, str, str] = ("user", "item", "rating"),
        stats: masked.MaskedStats | None = None,
    ):
        super().__init__(summary)
        self._mixture = mixture
        self._items = items
        self._ratings = ratings
        self._columns = tuple(columns)  # the ratings' user, item and rating columns
        self._stats = stats
        # why there are no statistics, when partialFit is refused for it
        self._no_stats = (
            "this model holds no statistics of its ratings (it was saved before partialFit "
            "existed): refit it"
        )
        self._data = None  # the training ratings as cached blocks, read when first needed

    def setUserCol(self, value: str):
        """Sets the value of :py:attr:`userCol`."""
        return self._set(userCol=value)

    def setItemCol(self, value: str):
        """Sets the value of :py:attr:`itemCol`."""
        return self._set(itemCol=value)

    def setPredictionCol(self, value: str):
        """Sets the value of :py:attr:`predictionCol`."""
        return self._set(predictionCol=value)

    def setColdStartStrategy(self, value: str):
        """Sets the value of :py:attr:`coldStartStrategy`."""
        return self._set(coldStartStrategy=value)

    def unpersist(self) -> None:
        """Free the cached training ratings and their ids' broadcast (read again when needed,
        by this model and its copies alike).

        Examples
        --------
        >>> recommendations = model.recommendForAllUsers(10).cache()
        >>> recommendations.count()
        >>> model.unpersist()  # the ratings' blocks are no longer needed for now
        """
        if self._data is not None:
            self._data.release()
            self._data = None

    @property
    def weights(self) -> np.ndarray:
        """Each component's weight p_j (K)."""
        return self._mixture.weights

    @property
    def means(self) -> np.ndarray:
        """Each component's means μ_j (K × d, one per column)."""
        return self._mixture.means

    @property
    def variances(self) -> np.ndarray:
        """Each component's variance σ_j² (K), shared by its columns."""
        return self._mixture.variances

    @property
    def items(self) -> np.ndarray:
        """The item ids (numbers or strings), in the order of the columns of ``means``."""
        return self._items

    def _training(self):
        """The ratings the posteriors come from, as cached blocks (read once)."""
        if self._data is None or self._data.released:
            if self._ratings is None:
                raise InputError("this model holds no ratings to recommend from")
            data = read_triples(self._ratings, *self._columns)
            if not np.array_equal(data.index.items, self._items):
                data.release()
                raise InputError("the model's ratings do not hold the items it was fitted on")
            self._data = data
        return self._data

    def _transform(self, dataset):
        from pyspark.sql import functions as F

        data = self._training()
        out = recommend.predict(
            dataset.sparkSession,
            data.blocks,
            data.index,
            self._mixture,
            dataset,
            self.getUserCol(),
            self.getItemCol(),
            self.getPredictionCol(),
            unknown_users="null",
        )
        column = F.col(self.getPredictionCol())
        if self.getColdStartStrategy() == "drop":
            return out.where(column.isNotNull())
        return out.withColumn(self.getPredictionCol(), F.coalesce(column, F.lit(float("nan"))))

    def recommendForAllUsers(self, numItems: int):
        """Each user's ``numItems`` best unrated items: ``userCol``, ``recommendations``
        (array of struct ``itemCol``, ``rating``), best first.

        Parameters
        ----------
        numItems : int
            How many items per user (>= 1).

        Returns
        -------
        pyspark.sql.DataFrame
            One row per training user: ``userCol`` and ``recommendations``, an array of
            (``itemCol``, ``rating``) structs, the highest predicted rating first; items the
            user rated are left out.
        """
        return self._user_recommendations(numItems, None)

    def recommendForUserSubset(self, dataset, numItems: int):
        """``recommendForAllUsers`` for the users in ``dataset``'s ``userCol`` (those the
        model knows).

        Parameters
        ----------
        dataset : pyspark.sql.DataFrame
            A DataFrame with a ``userCol`` column of user ids (other columns are ignored).
        numItems : int
            How many items per user (>= 1).

        Returns
        -------
        pyspark.sql.DataFrame
            ``userCol`` and ``recommendations`` as ``recommendForAllUsers`` gives them, for
            those users; ids the model does not know are left out.
        """
        return self._user_recommendations(numItems, self._ids(dataset, self.getUserCol()))

    def recommendForAllItems(self, numUsers: int):
        """Each item's ``numUsers`` best users among those who have not rated it:
        ``itemCol``, ``recommendations`` (array of struct ``userCol``, ``rating``).

        Parameters
        ----------
        numUsers : int
            How many users per item (>= 1).

        Returns
        -------
        pyspark.sql.DataFrame
            One row per item: ``itemCol`` and ``recommendations``, an array of (``userCol``,
            ``rating``) structs, the highest predicted rating first (empty when every user
            rated the item).
        """
        return self._item_recommendations(numUsers, None)

    def recommendForItemSubset(self, dataset, numUsers: int):
        """``recommendForAllItems`` for the items in ``dataset``'s ``itemCol``.

        Parameters
        ----------
        dataset : pyspark.sql.DataFrame
            A DataFrame with an ``itemCol`` column of item ids (other columns are ignored).
        numUsers : int
            How many users per item (>= 1).

        Returns
        -------
        pyspark.sql.DataFrame
            ``itemCol`` and ``recommendations`` as ``recommendForAllItems`` gives them, for
            those items; ids the model does not know are left out.
        """
        return self._item_recommendations(numUsers, self._ids(dataset, self.getItemCol()))

    def withNewUsers(self, ratings):
        """This model with users who were not in the training data added from their own
        (user, item, rating) records: their posteriors p(j|u) come from those ratings with
        the parameters held fixed (no refit). Ratings of items the model does not know are
        left out; a user the model already has is refused.

        Parameters
        ----------
        ratings : pyspark.sql.DataFrame
            The new users' ratings, in the columns ``userCol``, ``itemCol`` and
            ``ratingCol`` name.

        Returns
        -------
        MixtureRecommenderModel
            A copy of this model whose ratings include the new users' (this model is
            unchanged): ``transform`` and the ``recommendFor…`` methods then know them.
        """
        from pyspark.sql import functions as F

        ratings = self._as_training(ratings)
        names = list(self._columns)
        known = self._training().index.users
        spark = ratings.sparkSession
        new_users = self._ids(ratings, names[0])
        clash = (
            np.intersect1d(new_users, known)
            if known.dtype.kind not in "US"
            else np.intersect1d(new_users.astype(str), known)
        )
        if clash.size:
            raise InputError(
                f"user {clash[0]!r} is already in the model's data: new users "
                "only (refit to update a known user)"
            )
        kind = "string" if self._items.dtype.kind in "US" else "long"
        items = spark.createDataFrame([(v.item(),) for v in self._items], f"_known {kind}")
        kept = ratings.join(items, try_cast(names[1], kind) == F.col("_known"), "left_semi")
        model = self.copy()
        model._ratings = self._ratings.unionByName(kept)
        model._data = None
        # the parameters are fixed: the statistics do not hold the new users' ratings
        model._stats = None
        model._no_stats = (
            "withNewUsers scored users with the parameters fixed, so this model's statistics "
            "do not hold their ratings: call partialFit on the model before withNewUsers, with "
            "their ratings among the new ones, to learn from them"
        )
        return model

    def _as_training(self, ratings):
        """New ratings in the training ratings' column names and types (an id that does not
        convert is null)."""
        if self._ratings is None:
            raise InputError(
                "this model holds no training ratings (a model logged to MLflow "
                "keeps its parameters only): load it from model.save(path), or "
                "score new users with its pyfunc"
            )
        given = [self.getUserCol(), self.getItemCol(), self.getRatingCol()]
        missing = [c for c in given if c not in ratings.columns]
        if missing:
            raise InputError(f"the new ratings have no column {', '.join(map(repr, missing))}")
        names = list(self._columns)
        types = [self._ratings.schema[c].dataType for c in names]
        return ratings.select(*[try_cast(g, t).alias(n) for g, n, t in zip(given, names, types)])

    def partialFit(self, ratings) -> MixtureRecommenderModel:
        """A new model updated with new ratings, without a refit: ratings of users it knows
        (of items they have not rated yet), of new users, of new items. Each user with new
        ratings contributes their old and new ratings to the model's statistics in place of
        their old ones (incremental EM), and the item means, variances and type weights are
        the M-step of the result. After a fit this is exactly one EM iteration from this model
        on the training and new ratings together (a new item's means start at its ratings'
        mean); later updates replace a user's contribution under the current parameters, not
        the ones it was computed under, which a refit makes exact again.

        It costs one pass over the cached training ratings that computes only the users with
        new ratings; the new ratings are gathered to the driver (a day's, not a data set's).
        The new model's training ratings are this one's and the new ones (read again as
        blocks when it first recommends).

        Parameters
        ----------
        ratings : pyspark.sql.DataFrame
            The new ratings, in the columns ``userCol``, ``itemCol`` and ``ratingCol`` name.
            A (user, item) pair the model already holds is refused (an update adds ratings;
            a changed rating needs a refit).

        Returns
        -------
        MixtureRecommenderModel
            A new model with this one's params (this one is unchanged): the items are this
            one's and the new ones, in sorted order; its summary counts every rating, user
            and item it now holds, and its ``logLikelihood`` is theirs under this model.

        Examples
        --------
        >>> model = MixtureRecommender(userCol="userId", itemCol="movieId").fit(ratings)
        >>> model = model.partialFit(todays_ratings)
        >>> model.recommendForUserSubset(todays_ratings.select("userId").distinct(), 10)
        """
        if self._ratings is not None and self._stats is None:
            raise InputError(self._no_stats)
        new = self._as_training(ratings)
        day = read_triples(new, *self._columns, describe="the new ratings")
        try:
            data = self._training()
            update = with_ratings(
                data.blocks,
                data.index,
                self._mixture,
                self._stats,
                day,
                self.getMinVariance(),
                self.getPriorStrength(),
            )
            n_ratings = data.n_ratings + day.n_ratings
        finally:
            day.release()
        ll = float(update.stats.log_likelihood)
        summary = MixtureRecommenderSummary(
            logLikelihood=ll,
            numIter=1,
            converged=False,
            seed=self.summary.seed if self.hasSummary else self.getSeed(),
            logLikelihoodHistory=[ll],
            numRatings=n_ratings,
            numUsers=len(update.users),
            numItems=len(update.items),
        )
        model = MixtureRecommenderModel(
            update.mixture,
            update.items,
            self._ratings.unionByName(new),
            summary,
            self._columns,
            update.stats,
        )
        return self._copyValues(model)

    def recommendForNewUsers(self, ratings, numItems: int):
        """Recommendations for users who were not in the training data, from their own
        ratings and with no refit: ``withNewUsers(ratings).recommendForUserSubset``.

        Parameters
        ----------
        ratings : pyspark.sql.DataFrame
            The new users' ratings, as ``withNewUsers`` takes them.
        numItems : int
            How many items per user (>= 1).

        Returns
        -------
        pyspark.sql.DataFrame
            ``userCol`` and ``recommendations`` for each new user, as
            ``recommendForAllUsers`` gives them.
        """
        return self.withNewUsers(ratings).recommendForUserSubset(ratings, numItems)

    def copy(self, extra=None):
        """A copy of this model with the same parameters and ratings, sharing their cached
        blocks (``pyspark.ml.Model.copy``).

        Parameters
        ----------
        extra : dict, optional
            Param values that override this model's in the copy.

        Returns
        -------
        MixtureRecommenderModel
            The copy.
        """
        model = super().copy(extra)
        model._data = self._data
        return model

    def _ids(self, dataset, column: str) -> np.ndarray:
        if column not in dataset.columns:
            raise InputError(
                f"no column {column!r}; the DataFrame has {', '.join(dataset.columns)}"
            )
        values = [
            r[0]
            for r in dataset.select(column).where(f"`{column}` IS NOT NULL").distinct().collect()
        ]
        return np.array(values)

    def _user_recommendations(self, n: int, users):
        data = self._training()
        return recommend.recommend(
            self._spark(),
            data.blocks,
            data.index,
            self._mixture,
            n,
            self.getUserCol(),
            self.getItemCol(),
            users,
        )

    def _item_recommendations(self, n: int, items):
        data = self._training()
        return recommend.recommend_items(
            self._spark(),
            data.blocks,
            data.index,
            self._mixture,
            n,
            self.getUserCol(),
            self.getItemCol(),
            items,
        )

    def _spark(self):
        return self._ratings.sparkSession

    def _score_pandas(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Each (user, item) row's predicted rating (``recommend.new_user_predictions``): every
        user in ``frame`` scored from their rated rows in it, with the parameters fixed."""
        prediction = recommend.new_user_predictions(
            self._mixture, self._items, frame, self._columns
        )
        return pd.DataFrame({self.getPredictionCol(): prediction}, index=frame.index)

    def _input_example(self) -> pd.DataFrame:
        """A new user's ratings of the first items (their means under the first component)."""
        user, item, rating = self._columns
        items = [v.item() for v in self._items[:3]]
        numeric = self._ratings is not None and self._ratings.schema[user].dataType.typeName() in (
            "integer",
            "long",
            "short",
            "byte",
        )
        return pd.DataFrame(
            {
                user: [-1 if numeric else "new"] * len(items),
                item: items,
                rating: [float(v) for v in self.means[0, : len(items)]],
            }
        )

    def _arrays(self) -> dict:
        return {**self._mixture._asdict(), "items": self._items, **stats_arrays(self._stats)}

    def _extra(self) -> dict:
        return {"ratingColumns": list(self._columns), **stats_extra(self._stats)}

    def _frames(self) -> dict:
        return {} if self._ratings is None else {RATINGS: self._ratings}

    def _attach_frames(self, frames: dict) -> None:
        self._ratings = frames.get(RATINGS)

    @classmethod
    def _from_saved(cls, arrays: dict, extra: dict) -> MixtureRecommenderModel:
        try:
            mixture = masked.SphericalMixture(
                **{name: arrays[name] for name in masked.SphericalMixture._fields}
            )
            problem = masked.mixture_problem(mixture, len(arrays["items"]))
            if problem:
                raise ValueError(problem)
            stats = saved_stats(arrays, extra, mixture.means.shape)
        except (KeyError, ValueError) as exc:
            raise InputError(f"the saved model is incomplete or inconsistent ({exc})") from None
        return cls(
            mixture,
            arrays["items"],
            None,
            None,
            tuple(extra.get("ratingColumns", ("user", "item", "rating"))),
            stats,
        )
