"""Every notebook runs top to bottom in a fresh kernel, and shows the numbers it should."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
# Run here in a Spark Connect session (the DataFrame backend) rather than a classic one; what
# they call is tested on both backends in the library's tests, and `make notebooks` runs them
# classic.
UNDER_CONNECT = {"04_matrix_completion.ipynb"}
sys.path.insert(0, str(ROOT / "notebooks"))
pytestmark = pytest.mark.notebooks


def stdout_of(notebook) -> str:
    return "".join(
        o.get("text", "")
        for cell in notebook.cells
        if cell.cell_type == "code"
        for o in cell.get("outputs", [])
        if o.get("name") == "stdout"
    )


CONNECT = "04_matrix_completion.ipynb under Spark Connect"


@pytest.fixture(scope="module")
def executed(netflix_dir, connect_server):
    """Every notebook in its own kernel, two at a time (a notebook's start-up and driver work
    overlap well with another's Spark jobs); the UNDER_CONNECT ones in a kernel whose session
    is a Spark Connect client (SPARK_REMOTE), started first as they take longest."""
    from concurrent.futures import ThreadPoolExecutor

    import execute

    os.environ["SPARK_EM_NETFLIX"] = str(netflix_dir)
    execute.quiet_spark()
    remote = dict(os.environ, SPARK_REMOTE=connect_server.url)
    jobs = [
        (f"{p.name} under Spark Connect", p, remote) for p in NOTEBOOKS if p.name in UNDER_CONNECT
    ]
    jobs += [(p.name, p, None) for p in NOTEBOOKS if p.name not in UNDER_CONNECT]
    with ThreadPoolExecutor(max_workers=2) as pool:
        done = pool.map(lambda job: execute.execute(job[1], job[2]), jobs)
        return dict(zip((name for name, _, _ in jobs), done))


def test_there_are_notebooks():
    assert {p.name for p in NOTEBOOKS} == {
        "01_optimization_foundations.ipynb",
        "02_weighted_least_squares.ipynb",
        "03_gaussian_mixture_em.ipynb",
        "04_matrix_completion.ipynb",
        "05_missing_values.ipynb",
        "06_streaming.ipynb",
        "07_mixtures_of_regressions.ipynb",
    }


def test_optimization_foundations(executed):
    out = stdout_of(executed["01_optimization_foundations.ipynb"])
    assert "x2 = 1.2\n" in out
    assert "root = 1.1795090246" in out
    assert "x = 0: f = -6, f'' = -24 -> local maximum" in out
    assert "boundary x = -6: f = -654" in out


def test_weighted_least_squares(executed):
    out = stdout_of(executed["02_weighted_least_squares.ipynb"])
    deltas = [float(v) for v in re.findall(r"\|Δ\w+\| = ([0-9.e+-]+)", out)]
    assert len(deltas) == 2 and max(deltas) < 1e-8  # Newton equals MLlib's normal equations
    assert "Newton: intercept -3.7854110634, slope 0.9998760821, 2 passes" in out
    # a noise-free degree-10 polynomial: QR keeps its digits, the normal equations lose them
    kept = dict(re.findall(r"^(qr|normal equations): +([0-9.]+) significant digits$", out, re.M))
    assert float(kept["qr"]) >= 7 and float(kept["normal equations"]) < 3
    assert "covariance HC3" in out and "covariance nonrobust" in out


def test_gaussian_mixtures_on_the_toy_data(executed):
    out = stdout_of(executed["03_gaussian_mixture_em.ipynb"])
    assert "Data: the course toy data" in out
    # The course's K-means costs on toy_data.txt (best of seeds 0-4) and its BIC choice.
    for k, cost in [(1, "5462.2975"), (2, "1684.9080"), (3, "1329.5949"), (4, "1035.4998")]:
        assert re.search(rf"^ {k} +{cost} ", out, re.M)
    assert "BIC chooses K = 3" in out
    # the fit logged to MLflow comes back from its runs:/ URI, as a pyfunc and as the model
    assert re.search(r"^log-likelihood by iteration: \d+ steps", out, re.M)
    assert "the same means back: True" in out


def test_missing_values(executed):
    """Exact EM recovers the planted means better than imputing first, and its imputations
    beat the column means."""
    out = stdout_of(executed["05_missing_values.ipynb"])
    errors = dict(
        re.findall(
            r"^(exact EM|impute, then cluster) +iterations +\d+ +largest error "
            r"of a mean ([0-9.]+)$",
            out,
            re.M,
        )
    )
    assert float(errors["exact EM"]) < 0.25 < float(errors["impute, then cluster"])
    rmse = re.search(
        r"column means ([0-9.]+), the mixture's conditional expectation ([0-9.]+)", out
    )
    assert float(rmse.group(2)) < float(rmse.group(1))


def test_streaming(executed):
    """The stream learns every batch once, a restart changes nothing, after the drift the
    constant step ends nearer the batch fit than the decaying one, and the recommender's
    update predicts held-out ratings as well as a refit."""
    out = stdout_of(executed["06_streaming.ipynb"])
    assert "updates: 16, rows learnt from: 48000" in out
    assert "restarted: the same model: True" in out
    distance = float(re.search(r"to its nearest fitted mean: ([0-9.]+)", out).group(1))
    assert distance < 1.0
    gaps = dict(re.findall(r"^(decaying|half-life).* last batch: ([0-9.]+) nats", out, re.M))
    assert float(gaps["half-life"]) < 0.1 < float(gaps["decaying"])
    # the recommender's day: new users and a new item join, and the update predicts as a refit
    assert "items 60 -> 61; users 800 -> 840" in out
    rmse = dict(re.findall(r"^(partialFit|refit) +held-out RMSE ([0-9.]+)", out, re.M))
    assert abs(float(rmse["partialFit"]) - float(rmse["refit"])) <= 0.01 * float(rmse["refit"])


def test_matrix_completion_under_spark_connect(executed):
    """Notebook 04, unchanged, in a kernel whose session is a Spark Connect client: the data
    go on the DataFrame backend; the course's results come out."""
    out = stdout_of(executed[CONNECT])
    assert "Backend: DataFrame (the session is pyspark.sql.connect.session)" in out
    check_matrix_completion(out)


def check_matrix_completion(out: str) -> None:
    assert "Data: the course netflix data" in out
    # The course's published results (../shared/data/README.md).
    assert "best K=12: seed 1, log-likelihood -1390234.4223469" in out
    assert "K=12 seed 1: RMSE all entries 0.4804908505" in out
    assert out.count("-1521060.9539852") == 5


def test_mixtures_of_regressions(executed):
    out = stdout_of(executed["07_mixtures_of_regressions.ipynb"])
    found = re.findall(
        r"^recovered: slope (\S+) intercept (\S+) sigma (\S+) weight (\S+) \(true (\S+), (\S+)\)$",
        out,
        re.M,
    )
    assert len(found) == 2
    for slope, level, sigma, weight, true_slope, true_level in found:
        assert abs(float(slope) - float(true_slope.rstrip(","))) < 0.02
        assert abs(float(level) - float(true_level)) < 0.05
        assert abs(float(sigma) - 0.5) < 0.02 and abs(float(weight) - 0.5) < 0.02
    assert float(re.search(r"rows in their planted regime: ([0-9.]+)%", out).group(1)) > 90
    assert "P>|z|" in out and "BIC chooses K = 2" in out
