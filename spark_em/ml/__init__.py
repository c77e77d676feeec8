"""spark.ml-style estimators: ``GaussianMixture``, ``KMeans``, ``MaskedGaussianMixture``,
``MixtureRecommender`` and ``WeightedLinearRegression``.

They take a DataFrame column of ``pyspark.ml`` vectors or numeric arrays, fit on cached blocks
through the same loop as the jobs, and return models that ``transform`` DataFrames, save
through Spark's writers to any URI Spark can write (metadata plus arrays as Parquet, never
pickle), and work inside a ``Pipeline``. They
work the same in a classic session and in a Spark Connect session: ``fit`` reads the data on
the backend the ``backend`` param names (``auto``: RDD blocks in a classic session, the
DataFrame backend under Connect), and ``transform`` is one ``mapInArrow`` on either.
"""

from spark_em.ml.gaussian import GaussianMixture, GaussianMixtureModel, GaussianMixtureSummary
from spark_em.ml.kmeans import KMeans, KMeansModel, KMeansSummary
from spark_em.ml.masked import MaskedGaussianMixture, MaskedGaussianMixtureModel
from spark_em.ml.recommender import MixtureRecommender, MixtureRecommenderModel
from spark_em.ml.wols import WeightedLinearRegression, WeightedLinearRegressionModel

__all__ = [
    "GaussianMixture",
    "GaussianMixtureModel",
    "GaussianMixtureSummary",
    "KMeans",
    "KMeansModel",
    "KMeansSummary",
    "MaskedGaussianMixture",
    "MaskedGaussianMixtureModel",
    "MixtureRecommender",
    "MixtureRecommenderModel",
    "WeightedLinearRegression",
    "WeightedLinearRegressionModel",
]
