"""A full-covariance mixture and a least-squares fit to compare across backends and sessions."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose


def other_families(spark, frame_of):
    """A full-covariance mixture (k-means++ and random starts) and a weighted least-squares
    fit on blocks made by ``frame_of(array, weights=None)``: the numbers to compare across
    backends."""
    from spark_em.io.table import RegressionData
    from spark_em.models import gaussian, wols

    rng = np.random.default_rng(7)
    points = np.vstack(
        [rng.normal(c, 1.0, size=(400, 3)) for c in ([0, 0, 0], [5, 5, 0], [0, 6, 4])]
    )
    x = rng.uniform(-4, 4, 20000)
    table = np.column_stack([x - 4 + rng.normal(0, 0.5, x.size), x])
    out = {}
    for init in ("kmeans++", "random"):
        run = gaussian.fit(frame_of(points), 3, seed=0, init=init, covariance_type="full")
        out[init] = {
            "ll": run.objective,
            "n_iter": run.n_iter,
            "means": run.mixture.means.tolist(),
            "covariances": np.asarray(run.mixture.covariances).tolist(),
        }
    weighted = frame_of(table, np.abs(1 / x))
    fitted = wols.fit(RegressionData(weighted, ["x"], len(table)), "newton")
    out["wols"] = [fitted.intercept, *fitted.coefficients.tolist()]
    return out


def assert_same_families(a, b):
    for init in ("kmeans++", "random"):
        assert a[init]["n_iter"] == b[init]["n_iter"]
        assert a[init]["ll"] == pytest.approx(b[init]["ll"], rel=1e-10)
        for name in ("means", "covariances"):
            assert_allclose(a[init][name], b[init][name], rtol=1e-10, atol=1e-10)
    assert_allclose(a["wols"], b["wols"], rtol=1e-10)
