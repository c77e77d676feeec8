"""Nothing lost, nothing silent: outputs that never destroy inputs, leftovers cleared, saves
that appear whole or not at all, values refused at the door, one line for every refusal."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from spark_em import cli
from spark_em.cli import fit_gmm
from spark_em.cli.outputs import MARKER
from spark_em.errors import InputError
from tests.conftest import ROOT


def run_job(*args):
    return cli.main_wrapper(fit_gmm.main, [str(a) for a in args])


def ratings_file(path: Path, rows: int = 12, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    X = rng.integers(1, 6, size=(rows, 5)).astype(float)
    X[rng.random(X.shape) < 0.3] = 0
    np.savetxt(path, X, fmt="%d")
    return path


def test_out_never_destroys_what_the_run_reads(spark, tmp_path, monkeypatch, capsys):
    work = tmp_path / "work"
    (work / "data").mkdir(parents=True)
    data = ratings_file(work / "data" / "r.txt")
    keep = work / "keep.txt"
    keep.write_text("mine\n")
    (work / "link").symlink_to(work / "data")
    monkeypatch.chdir(work)
    cases = [
        (data, ["--out", ".", "--overwrite"], "is, or holds, the working directory"),
        (data, ["--out", data, "--overwrite"], "it is --input"),
        (data, ["--out", work / "data", "--overwrite"], "it holds --input"),
        (data, ["--out", work / "link", "--overwrite"], "it holds --input"),  # a symlink
        (work / "data", ["--out", "data/../data/sub"], "it lies inside --input"),
        (data, ["--out", keep / "x"], "which is a file"),
        (data, ["--out", "o", "--checkpoint", "data"], "--checkpoint data cannot be written"),
    ]
    for source, extra, message in cases:
        assert run_job("--input", source, "--k", "1", *extra) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0], (extra, err)
    # an existing directory a spark-em job did not write is never replaced
    (work / "mine").mkdir()
    (work / "mine" / "notes.txt").write_text("keep me\n")
    assert run_job("--input", data, "--k", "1", "--out", work / "mine", "--overwrite") == 2
    assert "did not write it" in capsys.readouterr().err
    assert (work / "mine" / "notes.txt").read_text() == "keep me\n"
    assert keep.read_text() == "mine\n" and data.is_file()
    # a spark-em output is replaced, and carries the marker
    assert run_job("--input", data, "--k", "1", "--out", work / "o") == 0
    assert (work / "o" / MARKER).is_file()
    assert run_job("--input", data, "--k", "2", "--out", work / "o", "--overwrite") == 0
    assert json.loads((work / "o" / "model.json").read_text())["k"] == 2
    assert sorted(p.name for p in work.iterdir()) == ["data", "keep.txt", "link", "mine", "o"]


def wait_for(path_glob: Path, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if list(path_glob.parent.glob(path_glob.name)):
            return
        time.sleep(0.005)
    raise AssertionError(f"nothing matched {path_glob}")


def killed(argv: list, staging: Path, env: dict | None = None) -> None:
    """Start ``argv``, SIGKILL it as soon as ``staging`` (a glob) appears, and wait."""
    proc = subprocess.Popen(
        argv,
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_for(staging)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the JVM and the Python workers too
        proc.wait()


def test_a_killed_job_and_a_killed_save_leave_the_previous_outputs_whole(spark, tmp_path):
    """SIGKILL while a job writes its outputs and while a model saves: the previous outputs
    load as they were, and the next run there leaves nothing behind."""
    env = dict(os.environ, PYSPARK_PYTHON=sys.executable)
    big = ratings_file(tmp_path / "big.txt", rows=20_000, seed=1)
    out = tmp_path / "out"
    job = [
        sys.executable,
        str(ROOT / "jobs" / "fit_gmm.py"),
        "--input",
        str(big),
        "--k",
        "2",
        "--max-iter",
        "2",
        "--output-format",
        "text",
        "--out",
        str(out),
    ]
    assert run_job(*job[2:]) == 0  # in this session: only the killed runs need their own
    before = json.loads((out / "metrics.json").read_text())
    killed(
        [*job[:-2], "--seeds", "3", "--out", str(out), "--overwrite"], tmp_path / ".out.tmp-*", env
    )
    assert json.loads((out / "metrics.json").read_text()) == before
    assert (out / "completed.npy").is_file()
    assert run_job("--input", big, "--k", "1", "--max-iter", "1", "--out", out, "--overwrite") == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.txt", "out"]

    script = tmp_path / "save.py"
    script.write_text(
        "import sys, numpy as np\n"
        "from spark_em.engine.session import get_spark\n"
        "from spark_em.kernels.gaussian import Mixture\n"
        "from spark_em.ml import GaussianMixtureModel\n"
        "spark = get_spark('save')\n"
        "k, d = int(sys.argv[2]), 60\n"
        "cov = np.repeat(np.eye(d)[None], k, axis=0)\n"
        "model = GaussianMixtureModel(Mixture(np.full(k, 1 / k), np.zeros((k, d)), cov, 'full'))\n"
        "model.write().overwrite().save(sys.argv[1])\n"
    )
    saved = tmp_path / "model"
    from spark_em.kernels.gaussian import Mixture
    from spark_em.ml import GaussianMixtureModel

    cov = np.repeat(np.eye(60)[None], 3, axis=0)
    three = Mixture(np.full(3, 1 / 3), np.zeros((3, 60)), cov, "full")
    GaussianMixtureModel(three).save(str(saved))  # in this session, as the script would
    killed([sys.executable, str(script), str(saved), "400"], tmp_path / ".model.tmp-*", env)
    previous = GaussianMixtureModel.load(str(saved))
    assert len(previous.weights) == 3
    previous.write().overwrite().save(str(saved))
    assert not list(tmp_path.glob(".model.*"))


def test_saves_never_destroy_what_must_stay(spark, tmp_path, monkeypatch):
    from spark_em.ml import GaussianMixture, GaussianMixtureModel

    frame = spark.createDataFrame([([float(i), float(i % 3)],) for i in range(30)], ["features"])
    model = GaussianMixture(k=2, seed=0).fit(frame)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me\n")
    with pytest.raises(InputError, match="spark-em did not save it"):
        model.write().overwrite().save(str(mine))
    assert (mine / "notes.txt").read_text() == "keep me\n"
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(InputError, match="which is a file"):
        model.save(str(tmp_path / "file.txt" / "m"))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InputError, match="working directory"):
        model.write().overwrite().save(str(tmp_path))
    model.save(str(tmp_path / "m"))
    model.write().overwrite().save(str(tmp_path / "m"))  # its own save: replaced
    assert GaussianMixtureModel.load(str(tmp_path / "m")).getK() == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.txt", "m", "mine"]


def test_a_recommender_is_never_saved_over_its_own_ratings(spark, tmp_path):
    from spark_em.ml import MixtureRecommender, MixtureRecommenderModel

    triples = spark.createDataFrame(
        [(u, i, float(1 + (u + i) % 5)) for u in range(8) for i in range(4) if (u + i) % 3],
        "user long, item long, rating double",
    )
    MixtureRecommender(k=2, seed=0).fit(triples).save(str(tmp_path / "real"))
    (tmp_path / "link").symlink_to(tmp_path / "real")
    loaded = MixtureRecommenderModel.load(str(tmp_path / "link"))
    with pytest.raises(InputError, match="model's data"):
        loaded.write().overwrite().save(str(tmp_path / "real"))
    again = MixtureRecommenderModel.load(str(tmp_path / "real"))
    assert again.recommendForAllUsers(2).count() == 8


def storage_used(sc) -> tuple[int, int]:
    """(bytes of cached data held in the executors' storage memory, cached RDDs), from the
    block manager's own accounts. Spark's own broadcasts of task code, which its cleaner
    removes whenever the JVM collects garbage, are not counted."""
    infos = sc._jsc.sc().getRDDStorageInfo()
    used = sum(int(info.memSize()) for info in infos)
    return used, len(sc._jsc.getPersistentRDDs())


def test_a_cross_validation_leaves_the_storage_as_it_found_it(spark):
    from pyspark.ml.evaluation import ClusteringEvaluator
    from pyspark.ml.linalg import Vectors
    from pyspark.ml.tuning import CrossValidator, ParamGridBuilder

    from spark_em.ml import GaussianMixture

    rng = np.random.default_rng(2)
    points = np.vstack([rng.normal(c, 0.5, (40, 2)) for c in ([0, 0], [4, 4])])
    frame = spark.createDataFrame([(Vectors.dense(p),) for p in points], ["features"])
    estimator = GaussianMixture(seed=0, maxIter=10)
    grid = ParamGridBuilder().addGrid(estimator.k, [2, 3]).build()
    tuner = CrossValidator(
        estimator=estimator,
        estimatorParamMaps=grid,
        evaluator=ClusteringEvaluator(),
        numFolds=2,
        seed=0,
    )
    before = storage_used(spark.sparkContext)
    assert tuner.fit(frame).bestModel.getK() == 2
    after = storage_used(spark.sparkContext)
    assert after[1] <= before[1] and after[0] <= before[0], (before, after)


def test_every_job_on_a_few_rows_fits_or_refuses_in_one_line(tmp_path):
    """1, 2, 10 and 40 rows through each job and kind of input."""
    from tests.frontends.test_bad_input import run_cases

    rng = np.random.default_rng(5)
    cases = []
    for n in (1, 2, 10, 40):
        ratings = rng.integers(0, 6, size=(n, 4))
        ratings[:, 0] = rng.integers(1, 6, size=n)  # every row rates something
        np.savetxt(tmp_path / f"r{n}.txt", ratings, fmt="%d")
        np.savetxt(tmp_path / f"x{n}.csv", rng.normal(size=(n, 3)), delimiter=",")
        x = rng.uniform(-2, 2, size=n)
        rows = "y,w,x\n" + "".join(
            f"{2 * v + 1 + 0.1 * rng.normal()},{1 + i % 2},{v}\n" for i, v in enumerate(x)
        )
        (tmp_path / f"t{n}.csv").write_text(rows)
        cases += [
            ("fit_gmm", ["--input", tmp_path / f"r{n}.txt", "--k", "1"]),
            ("fit_gmm", ["--input", tmp_path / f"r{n}.txt", "--k", "3"]),
            ("fit_gmm", ["--input", tmp_path / f"x{n}.csv", "--missing", "none", "--k", "2"]),
            (
                "fit_wols",
                [
                    "--input",
                    tmp_path / f"t{n}.csv",
                    "--label",
                    "y",
                    "--weight",
                    "w",
                    "--features",
                    "x",
                ],
            ),
        ]
    argv = [(job, [*args, "--out", tmp_path / f"out{i}"]) for i, (job, args) in enumerate(cases)]
    results = run_cases(tmp_path, argv)
    for i, (job, args) in enumerate(cases):
        status, lines = results[i]
        if status == 0:
            assert (tmp_path / f"out{i}" / "metrics.json").is_file(), (job, args)
        else:  # progress lines may come first; the refusal is one line, and no traceback
            errors = [line for line in lines if not line.startswith("k=")]
            assert status == 2 and len(errors) == 1 and errors[0].startswith("error: "), (
                job,
                args,
                lines,
            )
    fitted = [i for i in results if results[i][0] == 0]
    assert len(fitted) >= len(cases) // 2  # most fit; the rest refuse in one line
    # 40 rows of least squares fit, with or without a driver sample to compare
    assert results[len(cases) - 1][0] == 0
