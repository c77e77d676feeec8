"""Kernels: numpy/scipy, and numba for the compiled Gaussian passes. One block and the
parameters give a log-likelihood (or loss) and sufficient statistics; summed statistics
give new parameters. Nothing here imports Spark or another layer of spark_em (a test says so)."""
