"""A small file-source stream for the streaming tests (one Parquet file a micro-batch) and
the model its micro-batches must reach, from the stepwise update written from the equations
(``stepwise_reference``)."""

from __future__ import annotations

import numpy as np

from spark_em.kernels.gaussian import Mixture
from spark_em.ml import StreamingGaussianMixture
from tests.helpers.stepwise_reference import reference_step

CENTRES = np.array([[0.0, 0.0], [6.0, 6.0], [0.0, 7.0]])
START = Mixture(
    np.array([0.2, 0.3, 0.5]),
    CENTRES + np.array([[1.0, -1.0], [-1.0, 0.5], [0.5, 1.0]]),
    np.array([[2.0, 0.3], [0.3, 1.5]]),
    "tied",
)
DECAY = 0.7
SCHEMA = "features array<double>, w double"


def batch(seed: int, n: int = 120):
    rng = np.random.default_rng(seed)
    X = CENTRES[rng.integers(0, 3, size=n)] + rng.normal(size=(n, 2))
    return X, rng.integers(1, 3, size=n).astype(float)


def write(spark, directory, seed: int):
    X, w = batch(seed)
    rows = [(x.tolist(), float(v)) for x, v in zip(X, w)]
    spark.createDataFrame(rows, SCHEMA).coalesce(1).write.parquet(str(directory / f"b{seed}"))
    # the stream reads one directory of files: move the part file into it, named in order
    (part,) = (directory / f"b{seed}").glob("part-*.parquet")
    part.rename(directory / "in" / f"{seed:03d}.parquet")


def stream_of(spark, directory):
    return (
        spark.readStream.schema(SCHEMA)
        .option("maxFilesPerTrigger", 1)
        .parquet(str(directory / "in"))
    )


def trainer(path) -> StreamingGaussianMixture:
    return StreamingGaussianMixture(
        featuresCol="features",
        weightCol="w",
        initialModel=START,
        stepDecay=DECAY,
        modelPath=str(path),
    )


def train(spark, directory, model_path, checkpoint):
    query = trainer(model_path).trainOn(
        stream_of(spark, directory), str(checkpoint), trigger={"availableNow": True}
    )
    query.awaitTermination()
    assert query.exception() is None


def expected_after(seeds):
    mixture = START
    for t, seed in enumerate(seeds):
        X, w = batch(seed)
        mixture = Mixture(*reference_step(X, w, mixture, (t + 2.0) ** -DECAY), "tied")
    return mixture


def assert_mixture(model, mixture, rtol=1e-9):
    for got, want in zip((model.weights, model.means, model.covariances), mixture[:3], strict=True):
        np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * np.abs(want).max())
