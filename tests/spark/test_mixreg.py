"""EM for the mixture of regressions on cached blocks: the fixed point of textbook EM
(``mixreg_reference``) from the same start, the same fit from 1, 3 and 8 partitions, and a
start refused in one line when a component cannot be fitted."""

from __future__ import annotations

import numpy as np
import pytest

from spark_em.engine import ops
from spark_em.errors import InputError
from spark_em.models import mixreg as mixreg_model
from tests.helpers.mixreg_reference import em, planted


def blocks_of(spark, values, w, partitions=2, block_rows=97):
    return ops.from_array(
        spark, values, num_partitions=partitions, block_rows=block_rows, weights=w
    )


def test_em_reaches_the_textbook_fixed_point(spark):
    values, X, y, w, start = planted("separated", n=400, seed=3)
    blocks = blocks_of(spark, values, w)
    try:
        run = mixreg_model.fit_from(blocks, start, tol=0.0, max_iter=25)
    finally:
        ops.release(blocks)
    # tol=0 runs until the log-likelihood stops rising in floating point: the fixed point
    assert 10 <= run.n_iter <= 25
    (weights, coefficients, sigmas), ll = em(X, y, w, *start, run.n_iter)
    assert run.log_likelihood == pytest.approx(ll, rel=1e-10)
    np.testing.assert_allclose(run.mixture.weights, weights, rtol=1e-8)
    np.testing.assert_allclose(run.mixture.coefficients, coefficients, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(run.mixture.sigmas, sigmas, rtol=1e-8)


def test_partitions_agree_and_the_planted_lines_are_found(spark):
    values, _, _, w, _ = planted("separated", n=600, seed=4)
    fits = []
    for partitions in (1, 3, 8):
        blocks = blocks_of(spark, values, w, partitions, block_rows=64)
        try:
            fits.append(mixreg_model.fit(blocks, 3, [0], max_iter=60))
        finally:
            ops.release(blocks)
    for other in fits[1:]:
        np.testing.assert_allclose(
            other.mixture.coefficients, fits[0].mixture.coefficients, rtol=1e-7, atol=1e-9
        )
        assert other.log_likelihood == pytest.approx(fits[0].log_likelihood, rel=1e-10)
    planted_beta = np.array([[1.0, 2.0, -1.0], [-3.0, -1.0, 2.0], [6.0, 0.5, 0.5]])
    found = fits[0].mixture.coefficients[np.argsort(fits[0].mixture.coefficients[:, 0])]
    np.testing.assert_allclose(found, planted_beta[np.argsort(planted_beta[:, 0])], atol=0.15)


def test_a_start_that_cannot_be_fitted_is_named(spark):
    values, _, _, w, _ = planted("separated", n=7, seed=5)
    blocks = blocks_of(spark, values, w)
    try:
        with pytest.raises(InputError, match="fewer than its 3 coefficients"):
            mixreg_model.fit(blocks, 3, [0])
    finally:
        ops.release(blocks)
