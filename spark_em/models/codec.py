"""The JSON forms of every model's parameters, as checkpoints and ``model.json`` files hold
them. Numbers are JSON floats, which read back as the same float64 values. What is read back
comes from outside a fit (a file anyone could edit): every decoder checks it and raises
``ValueError`` saying what makes it unusable."""

from __future__ import annotations

import numpy as np

from spark_em.kernels import gaussian, masked, mixreg


def _lists(record) -> dict:
    """A record of arrays as JSON lists, field by field."""
    return {name: np.asarray(value).tolist() for name, value in record._asdict().items()}


def encode_gaussian(mixture: gaussian.Mixture) -> dict:
    """weights, means, covariances, covariance_type and, for a mixture of factor analysers,
    loadings."""
    saved = {
        "weights": np.asarray(mixture.weights).tolist(),
        "means": np.asarray(mixture.means).tolist(),
        "covariances": np.asarray(mixture.covariances).tolist(),
        "covariance_type": mixture.covariance_type,
    }
    if mixture.covariance_type == "factor":
        saved["loadings"] = np.asarray(mixture.loadings).tolist()
    return saved


def decode_gaussian(saved: dict, definite: bool = True) -> gaussian.Mixture:
    """The mixture, checked (``definite``: its covariances positive definite; K-means' reading
    as a mixture may have a variance of 0)."""
    kind = saved["covariance_type"]
    if kind == "factor" and "loadings" not in saved:
        raise ValueError("a mixture of factor analysers needs its loadings")
    mixture = gaussian.Mixture(
        *(np.array(saved[n], dtype=np.float64) for n in ("weights", "means", "covariances")),
        kind,
        np.array(saved["loadings"], dtype=np.float64) if kind == "factor" else None,
    )
    problem = gaussian.mixture_problem(mixture, definite=definite)
    if problem:
        raise ValueError(problem)
    return mixture


def encode_masked(mixture: masked.SphericalMixture) -> dict:
    return _lists(mixture)


def encode_mixreg(mixture: mixreg.RegressionMixture) -> dict:
    """weights, coefficients, sigmas and, for a mixture with a gate, gate."""
    return {name: value for name, value in _lists(mixture).items() if value is not None}


def decode_mixreg(saved: dict) -> mixreg.RegressionMixture:
    """The mixture, checked (a gate is optional)."""
    mixture = mixreg.RegressionMixture(
        *(
            np.array(saved[name], dtype=np.float64)
            for name in ("weights", "coefficients", "sigmas")
        ),
        gate=None if saved.get("gate") is None else np.array(saved["gate"], dtype=np.float64),
    )
    k = len(mixture.weights)
    if mixture.coefficients.ndim != 2 or mixture.coefficients.shape[0] != k:
        raise ValueError("coefficients must be k × q")
    if mixture.sigmas.shape != (k,) or not np.all(mixture.sigmas > 0):
        raise ValueError("sigmas must be k numbers > 0")
    gate = mixture.gate
    if gate is not None and (gate.ndim != 2 or gate.shape[0] != k or gate.shape[1] < 2):
        raise ValueError("gate must be k × (1 + covariates)")
    if gate is not None and (not np.all(np.isfinite(gate)) or np.any(gate[0] != 0)):
        raise ValueError("gate must be finite with its first row 0")
    return mixture


def decode_masked(saved: dict) -> masked.SphericalMixture:
    mixture = masked.SphericalMixture(
        **{
            name: np.array(saved[name], dtype=np.float64)
            for name in masked.SphericalMixture._fields
        }
    )
    problem = masked.mixture_problem(mixture)
    if problem:
        raise ValueError(problem)
    return mixture


def decode_vector(saved: list) -> np.ndarray:
    vector = np.array(saved, dtype=np.float64)
    if vector.ndim != 1 or not np.isfinite(vector).all():
        raise ValueError("expected a vector of finite numbers")
    return vector


def gaussian_record(run, model: str, **options) -> dict:
    """What ``model.json`` holds of a complete-data run (a mixture, or K-means read as one):
    the fit's settings (``options``), then the mixture, where it started and how the fit went
    (these win over a setting of the same name)."""
    encoded = encode_gaussian(run.mixture)
    return {
        **options,
        "k": run.k,
        "d": int(run.mixture.means.shape[1]),
        "model": model,
        "covariance_type": encoded.pop("covariance_type"),
        **({"n_factors": run.mixture.n_factors} if "loadings" in encoded else {}),
        **encoded,
        "init": run.init,
        "seed": run.seed,
        "objective": run.objective,
        "n_iter": run.n_iter,
    }
