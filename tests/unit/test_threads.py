"""The compiled kernels load once whatever the threads: a fresh process whose first calls
come from many threads at once (as a pyfunc served by a threaded server makes them) gets the
same statistics in every thread as one thread alone."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from tests.conftest import ROOT

SCRIPT = textwrap.dedent(
    """
    import threading
    import numpy as np
    from scipy import sparse
    from spark_em.kernels import compiled, gaussian, masked, missing

    assert compiled.ENABLED
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3))
    holes = X.copy()
    holes[rng.random(X.shape) < 0.2] = np.nan
    ratings = sparse.csr_array(rng.integers(0, 6, size=(50, 8)).astype(float))
    mixture = gaussian.prepare(gaussian.Mixture(
        np.array([0.5, 0.5]), X[:2].copy(), np.stack([np.eye(3)] * 2), "full"))
    spherical = masked.SphericalMixture(np.array([0.5, 0.5]), rng.uniform(1, 5, (2, 8)),
                                        np.array([1.0, 2.0]))

    def work():
        return (gaussian.block_stats(X, mixture).log_likelihood,
                missing.block_stats(holes, mixture).log_likelihood,
                masked.block_stats(ratings, spherical).log_likelihood)

    results, errors = [], []
    barrier = threading.Barrier(8)

    def run():
        barrier.wait()
        try:
            results.append(work())
        except Exception as exc:
            errors.append(repr(exc))

    threads = [threading.Thread(target=run) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    alone = work()
    assert len(results) == 8 and all(np.allclose(r, alone, rtol=1e-12) for r in results)
    print("ok", len(results))
    """
)


def test_compiled_kernels_load_once_under_many_threads(tmp_path):
    # a numba cache of its own, so that the first calls compile rather than read a cache
    env = {"NUMBA_CACHE_DIR": str(tmp_path), "PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["ok", "8"]
