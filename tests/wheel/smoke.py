"""The installed wheel on its own: run by ``run.sh`` in a new virtual environment outside the
tree, so a file missing from the package fails here.

Checks that the package is the installed one (not a checkout), that its version is the
metadata's, that the pinned stack installed beside it kept its versions, that it carries its
configuration files and ``py.typed``; then fits, transforms, saves and loads every model type
and runs the jobs' ``--help`` and one small job. Exits non-zero on the first failure.

    python smoke.py WORKDIR [name==version ...]
"""

from __future__ import annotations

import importlib.metadata
import importlib.resources
import json
import subprocess
import sys
import sysconfig
from pathlib import Path

import numpy as np


def check_install(pins: list[str]) -> None:
    import spark_em

    where = Path(spark_em.__file__).resolve()
    site = Path(sysconfig.get_paths()["purelib"]).resolve()
    assert site in where.parents, f"spark_em imported from {where}, not from {site}"
    assert spark_em.__version__ == importlib.metadata.version("spark-em"), (
        spark_em.__version__,
        importlib.metadata.version("spark-em"),
    )
    for pin in pins:
        name, wanted = pin.split("==")
        found = importlib.metadata.version(name)
        assert found == wanted, f"{name} is {found} beside the wheel, not the pinned {wanted}"
    files = importlib.resources.files("spark_em")
    for name in ("py.typed", "conf/log4j2.properties"):
        assert files.joinpath(name).is_file(), f"the wheel has no spark_em/{name}"
    assert not (where.parent.parent / "tests").exists(), "the wheel installed the tests"
    print(f"spark-em {spark_em.__version__} from {where.parent}", flush=True)


def same(a, b, what: str) -> None:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    assert a.shape == b.shape and np.allclose(a, b, rtol=1e-12, atol=0), what


def mixtures(spark, work: Path) -> None:
    from pyspark.ml.linalg import Vectors

    from spark_em.ml import (
        GaussianMixture,
        GaussianMixtureModel,
        KMeans,
        KMeansModel,
        WeightedLinearRegression,
        WeightedLinearRegressionModel,
    )

    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 0.0], [6.0, 6.0], [-6.0, 6.0]])
    points = centres[rng.integers(0, 3, 600)] + rng.normal(size=(600, 2))
    df = spark.createDataFrame([(Vectors.dense(p),) for p in points], ["features"])

    for covariance in ("full", "tied", "diag", "spherical"):
        model = GaussianMixture(k=3, covarianceType=covariance, seed=1).fit(df)
        path = str(work / f"gmm-{covariance}")
        model.write().overwrite().save(path)
        loaded = GaussianMixtureModel.load(path)
        same(loaded.weights, model.weights, f"{covariance}: weights after load")
        before = [r.prediction for r in model.transform(df).select("prediction").collect()]
        after = [r.prediction for r in loaded.transform(df).select("prediction").collect()]
        assert before == after, f"{covariance}: predictions after load"
        found = np.sort(np.asarray(model.means)[:, 0])
        assert np.allclose(found, [-6.0, 0.0, 6.0], atol=0.3), f"{covariance}: means {found}"
        print(f"GaussianMixture {covariance}: fit, transform, save, load", flush=True)

    kmeans = KMeans(k=3, seed=1).fit(df)
    kmeans.write().overwrite().save(str(work / "kmeans"))
    same(KMeansModel.load(str(work / "kmeans")).clusterCenters(), kmeans.clusterCenters(), "km")
    assert kmeans.transform(df).select("prediction").distinct().count() == 3
    print("KMeans: fit, transform, save, load", flush=True)

    x = rng.normal(size=400)
    rows = [
        (Vectors.dense([v]), float(2.0 - 3.0 * v + 0.1 * e), 1.0)
        for v, e in zip(x, rng.normal(size=400))
    ]
    frame = spark.createDataFrame(rows, ["features", "label", "w"])
    wols = WeightedLinearRegression(weightCol="w").fit(frame)
    assert abs(wols.intercept - 2.0) < 0.05 and abs(wols.coefficients[0] + 3.0) < 0.05
    wols.write().overwrite().save(str(work / "wols"))
    loaded = WeightedLinearRegressionModel.load(str(work / "wols"))
    same(loaded.coefficients, wols.coefficients, "least squares: coefficients after load")
    assert loaded.transform(frame).count() == 400
    print("WeightedLinearRegression: fit, transform, save, load", flush=True)


def ratings(spark, work: Path) -> None:
    from spark_em.ml import (
        MaskedGaussianMixture,
        MaskedGaussianMixtureModel,
        MixtureRecommender,
        MixtureRecommenderModel,
    )

    rng = np.random.default_rng(0)
    types = rng.integers(1, 6, size=(3, 20)).astype(float)
    full = types[rng.integers(0, 3, size=300)]
    matrix = np.where(rng.random(full.shape) < 0.7, full, 0.0)
    df = spark.createDataFrame([(r.tolist(),) for r in matrix], ["ratings"])
    model = MaskedGaussianMixture(k=3, featuresCol="ratings", seed=1).fit(df)
    model.write().overwrite().save(str(work / "masked"))
    loaded = MaskedGaussianMixtureModel.load(str(work / "masked"))
    same(loaded.means, model.means, "masked: means after load")
    completed = np.array(loaded.transform(df).select("completed").first()[0])
    observed = matrix[0] > 0
    same(completed[observed], matrix[0][observed], "masked: observed entries kept")
    print("MaskedGaussianMixture: fit, transform, save, load", flush=True)

    rows = [
        (u, i, float(types[u % 3, i])) for u in range(150) for i in range(20) if rng.random() < 0.4
    ]
    frame = spark.createDataFrame(rows, ["userId", "movieId", "rating"])
    rec = MixtureRecommender(userCol="userId", itemCol="movieId", k=3, seed=1).fit(frame)
    rec.write().overwrite().save(str(work / "recommender"))
    again = MixtureRecommenderModel.load(str(work / "recommender"))
    a = sorted(
        tuple(r) for r in rec.transform(frame).select("userId", "movieId", "prediction").collect()
    )
    b = sorted(
        tuple(r) for r in again.transform(frame).select("userId", "movieId", "prediction").collect()
    )
    same([r[2] for r in a], [r[2] for r in b], "recommender: predictions after load")
    assert again.recommendForAllUsers(3).count() == 150
    print("MixtureRecommender: fit, transform, recommend, save, load", flush=True)


def jobs(work: Path) -> None:
    bin_dir = Path(sys.executable).parent
    for job in ("spark-em-fit-gmm", "spark-em-fit-wols", "spark-em-make-ratings"):
        out = subprocess.run(
            [str(bin_dir / job), "--help"], capture_output=True, text=True, check=True
        )
        assert out.stdout.startswith("usage:"), out.stdout[:200]
    out_dir = work / "wols-job"
    subprocess.run(
        [str(bin_dir / "spark-em-fit-wols"), "--rows", "2000", "--out", str(out_dir)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    metrics = json.loads((out_dir / "metrics.json").read_text())
    assert metrics, "the job wrote no metrics"
    print("jobs: --help, spark-em-fit-wols --rows 2000", flush=True)


def main(argv: list[str]) -> int:
    work = Path(argv[0])
    check_install(argv[1:])
    from spark_em import get_spark

    spark = get_spark("spark-em wheel smoke test")
    mixtures(spark, work)
    ratings(spark, work)
    spark.stop()
    jobs(work)
    print("the wheel works on its own", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
