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
    (weights, coefficients, sigmas), ll = em(X, y, w, *start[:3], run.n_iter)
    assert run.log_likelihood == pytest.approx(ll, rel=1e-10)
    np.testing.assert_allclose(run.mixture.weights, weights, rtol=1e-8)
    np.testing.assert_allclose(run.mixture.coefficients, coefficients, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(run.mixture.sigmas, sigmas, rtol=1e-8)


def test_partitions_agree_and_the_planted_lines_are_found(spark):
    values, _, _, w, start = planted("separated", n=600, seed=4)
    fits, starts = [], []
    for partitions in (1, 3, 8):
        blocks = blocks_of(spark, values, w, partitions, block_rows=64)
        try:  # the random start's partition hashes row indices: the same for any blocking
            starts.append(mixreg_model.partition_start(blocks, 3, 0, True))
            fits.append(mixreg_model.fit_from(blocks, start, max_iter=12))
        finally:
            ops.release(blocks)
    for other in starts[1:]:
        np.testing.assert_allclose(other.coefficients, starts[0].coefficients, rtol=1e-9)
        np.testing.assert_allclose(other.sigmas, starts[0].sigmas, rtol=1e-9)
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


def test_the_job_fits_a_users_file_with_the_observed_informations_errors(spark, tmp_path, capsys):
    import json

    from scipy.stats import norm

    from spark_em import cli
    from spark_em.cli import fit_wols
    from tests.helpers.mixreg_reference import numerical_hessian

    values, X, y, w, _ = planted("separated", n=400, seed=5)
    path = tmp_path / "rows.csv"
    np.savetxt(path, np.column_stack([values, w]), delimiter=",", header="y,x1,x2,w", comments="")
    args = ["--input", str(path), "--features", "x1,x2", "--weight", "w", "--mixture", "3"]
    out = tmp_path / "out"
    assert (
        cli.main_wrapper(
            fit_wols.main,
            [*args, "--seed", "1", "--n-init", "1", "--tol", "1e-12", "--out", str(out)],
        )
        == 0
    )
    captured = capsys.readouterr()
    metrics = json.loads((out / "metrics.json").read_text())
    assert json.loads(captured.out) == metrics
    assert "component 2: weight" in captured.err and "P>|z|" in captured.err
    assert metrics["converged"] and metrics["terms"] == ["intercept", "x1", "x2"]
    beta, sigmas = np.array(metrics["coefficients"]), np.array(metrics["sigmas"])
    weights = np.array(metrics["weights"])
    # the standard errors: the inverse of minus a numerical Hessian at the reported optimum
    theta = np.r_[np.column_stack([beta, sigmas]).ravel(), weights[:-1]]
    cov = np.linalg.inv(-numerical_hessian(theta, X, y, w, 3))
    per = np.sqrt(cov[:12, :12].diagonal().reshape(3, 4))
    errors = metrics["standard_errors"]
    np.testing.assert_allclose(errors["coefficients"], per[:, :3], rtol=1e-3)
    np.testing.assert_allclose(errors["sigmas"], per[:, 3], rtol=1e-3)
    half = norm.isf(0.025) * per[:, :3]
    intervals = np.array(metrics["confidence_intervals"])
    np.testing.assert_allclose(intervals[..., 0], beta - half, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(intervals[..., 1], beta + half, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(metrics["z_values"], beta / per[:, :3], rtol=1e-3)
    p_values = 2 * norm.sf(np.abs(beta / per[:, :3]))
    np.testing.assert_allclose(metrics["p_values"], p_values, rtol=1e-2, atol=1e-12)
    bic = -2 * metrics["log_likelihood"] + 14 * np.log(w.sum())
    assert metrics["bic"] == pytest.approx(bic, rel=1e-12)
    model = json.loads((out / "model.json").read_text())
    assert model["coefficients"] == metrics["coefficients"] and model["intercept"] is True
    # flags that do not apply to a mixture are refused before anything is read
    for extra in (["--solver", "gd"], ["--step", "0.1"], ["--reg-param", "-1"]):
        assert cli.main_wrapper(fit_wols.main, [*args, *extra]) == 2
        assert extra[0] in capsys.readouterr().err
    assert cli.main_wrapper(fit_wols.main, args[:-2] + ["--n-init", "3"]) == 2
    assert "--n-init, --init and --gate are for --mixture" in capsys.readouterr().err


def test_the_job_fits_a_gate_to_the_fixed_point_of_textbook_em(spark, tmp_path, capsys):
    """--gate z: the best of the job's random starts is the optimum textbook EM reaches from
    a start near the planted components (matched by their coefficients, the gate taken
    against the job's first component)."""
    import json

    from spark_em import cli
    from spark_em.cli import fit_wols
    from tests.helpers.mixreg_reference import gated_em, gated_planted

    values, X, Z, y, w, start = gated_planted(n=300, seed=6)
    path = tmp_path / "rows.csv"
    table = np.column_stack([values, w])
    np.savetxt(path, table, delimiter=",", header="y,x1,x2,z,w", comments="")
    out = tmp_path / "out"
    args = ["--input", str(path), "--features", "x1,x2", "--weight", "w", "--gate", "z"]
    args += ["--mixture", "3", "--n-init", "3", "--tol", "1e-13", "--out", str(out)]
    assert cli.main_wrapper(fit_wols.main, args) == 0
    err = capsys.readouterr().err
    assert "gate of component 1 (log-odds against component 0)" in err
    metrics = json.loads((out / "metrics.json").read_text())
    (gate, beta, sigmas), ll = gated_em(X, Z, y, w, start.gate, *start[1:3], 80)
    assert metrics["log_likelihood"] == pytest.approx(ll, rel=1e-9)
    got = np.array(metrics["coefficients"])
    order = [int(np.argmin(np.abs(got - b).sum(axis=1))) for b in beta]
    assert sorted(order) == [0, 1, 2]
    np.testing.assert_allclose(got[order], beta, rtol=1e-6, atol=1e-7)
    got_gate = np.array(metrics["gate"])[order]
    np.testing.assert_allclose(got_gate - got_gate[0], gate, rtol=1e-6, atol=1e-7)
    assert metrics["gate_terms"] == ["intercept", "z"]
    assert metrics["gate_p_values"][0] == [None, None]
    assert metrics["bic"] == pytest.approx(-2 * ll + 16 * np.log(w.sum()), rel=1e-9)


def test_the_job_finds_its_built_in_two_regimes(spark, tmp_path, capsys):
    import json

    from spark_em import cli
    from spark_em.cli import fit_wols
    from spark_em.io.synthetic import TWO_REGIMES

    out = tmp_path / "out"
    argv = [
        "--mixture",
        "2",
        "--rows",
        "20000",
        "--n-init",
        "2",
        "--init",
        "kmeans",
        "--out",
        str(out),
    ]
    assert cli.main_wrapper(fit_wols.main, argv) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    found = np.array(sorted(metrics["coefficients"]))  # (intercept, slope) by intercept
    truth = np.array(sorted((b, a) for a, b in TWO_REGIMES))
    np.testing.assert_allclose(found, truth, atol=0.05)
    np.testing.assert_allclose(metrics["sigmas"], [0.5, 0.5], atol=0.03)
    assert metrics["init"] == "kmeans" and metrics["n_init"] == 2
    assert {p.name for p in out.iterdir()} >= {"metrics.json", "model.json"}
