"""spark.ml-style estimators: ``GaussianMixture``, ``KMeans``, ``MaskedGaussianMixture``,
``MixtureRecommender``, ``MixtureOfRegressions`` and ``WeightedLinearRegression``;
``StreamingGaussianMixture`` and ``StreamingMixtureRecommender`` learn from a Structured
Streaming query.

They take a DataFrame column of ``pyspark.ml`` vectors or numeric arrays, fit on cached blocks
through the same loop as the jobs, and return models that ``transform`` DataFrames, save
through Spark's writers to any URI Spark can write (metadata plus arrays as Parquet, never
pickle), and work inside a ``Pipeline``. They work the same in a classic session and in a
Spark Connect session: ``fit`` reads the data on the backend the ``backend`` param names
(``auto``: RDD blocks in a classic session, the DataFrame backend under Connect), and
``transform`` is one ``mapInArrow`` on either.

Every model is a ``FittedModel`` (``spark_em.ml.fitted``) and every summary a
``TrainingSummary`` (``spark_em.ml.summary``). A model family is registered here: importing
its module registers its model class with ``FittedModel``.
"""

# the engine's import checks PySpark first: one line when it is missing or older than 3.5
import spark_em.engine  # noqa: F401
from spark_em.ml.fitted import FittedModel
from spark_em.ml.gaussian import GaussianMixture, GaussianMixtureModel, GaussianMixtureSummary
from spark_em.ml.kmeans import KMeans, KMeansModel, KMeansSummary
from spark_em.ml.masked import (
    MaskedGaussianMixture,
    MaskedGaussianMixtureModel,
    MaskedGaussianMixtureSummary,
)
from spark_em.ml.mixreg import (
    MixtureOfRegressions,
    MixtureOfRegressionsModel,
    MixtureOfRegressionsSummary,
)
from spark_em.ml.recommender import (
    MixtureRecommender,
    MixtureRecommenderModel,
    MixtureRecommenderSummary,
)
from spark_em.ml.streaming import StreamingGaussianMixture
from spark_em.ml.streaming_recommender import StreamingMixtureRecommender
from spark_em.ml.summary import Summary, TrainingSummary
from spark_em.ml.wols import WeightedLinearRegression, WeightedLinearRegressionModel
from spark_em.ml.wols_summary import (
    WeightedLinearRegressionSummary,
    WeightedLinearRegressionTrainingSummary,
)

__all__ = [
    "FittedModel",
    "GaussianMixture",
    "GaussianMixtureModel",
    "GaussianMixtureSummary",
    "KMeans",
    "KMeansModel",
    "KMeansSummary",
    "MaskedGaussianMixture",
    "MaskedGaussianMixtureModel",
    "MaskedGaussianMixtureSummary",
    "MixtureOfRegressions",
    "MixtureOfRegressionsModel",
    "MixtureOfRegressionsSummary",
    "MixtureRecommender",
    "MixtureRecommenderModel",
    "MixtureRecommenderSummary",
    "StreamingGaussianMixture",
    "StreamingMixtureRecommender",
    "Summary",
    "TrainingSummary",
    "WeightedLinearRegression",
    "WeightedLinearRegressionModel",
    "WeightedLinearRegressionSummary",
    "WeightedLinearRegressionTrainingSummary",
]
