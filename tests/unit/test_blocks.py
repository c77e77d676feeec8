"""Blocks as Spark pickles them (into the cache, and in every pass to the Python workers): the
same values back, a CSR block of few columns in fewer bytes; and an array's blocks handed to
``parallelize`` one to a record."""

from __future__ import annotations

import copy
import pickle
import threading
import time

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from scipy import sparse

from spark_em.engine.block import NARROW_COLUMNS, Block, pack, unpack
from spark_em.engine.compat import parallelize_each
from spark_em.kernels.arrays import sparse_values


def ratings(n_rows, n_cols, n, seed=0):
    rng = np.random.default_rng(seed)
    cells = rng.choice(n_rows * n_cols, size=n, replace=False)
    return sparse_values(cells // n_cols, cells % n_cols, rng.integers(1, 6, n), (n_rows, n_cols))


@pytest.mark.parametrize("n_cols", [17_770, NARROW_COLUMNS, NARROW_COLUMNS + 1])
@pytest.mark.parametrize("weighted", [False, True])
def test_a_sparse_block_comes_back_the_same(n_cols, weighted):
    values = ratings(300, n_cols, 5000)
    assert values.indices.max() >= n_cols - 300  # the largest columns are used
    weights = np.linspace(0.5, 2, 300) if weighted else None
    back = pickle.loads(pickle.dumps(Block(7, values, weights), protocol=5))
    assert isinstance(back, Block) and back.offset == 7
    assert back.values.shape == values.shape and back.values.indices.dtype == np.int32
    assert_array_equal(back.values.indptr, values.indptr)
    assert_array_equal(back.values.indices, values.indices)
    assert back.values.data.dtype == np.uint8
    assert_array_equal(back.values.data, values.data)
    assert_array_equal(back.values.toarray(), values.toarray())
    if weighted:
        assert_array_equal(back.weights, weights)
    else:
        assert back.weights is None


def test_few_columns_travel_in_two_bytes_an_index():
    values = ratings(2048, 17_770, 100_000)
    wide = pickle.dumps((0, values, None), protocol=5)
    narrow = pickle.dumps(Block(0, values), protocol=5)
    # uint8 ratings: 5 bytes a rating with int32 indices, 3 with uint16
    assert len(wide) - len(narrow) >= 2 * values.nnz


def test_a_dense_block_comes_back_the_same():
    X = np.random.default_rng(1).normal(size=(50, 4))
    back = pickle.loads(pickle.dumps(Block(3, X), protocol=5))
    assert back.offset == 3 and back.weights is None
    assert_array_equal(back.values, X)
    assert not sparse.issparse(back.values)


@pytest.mark.parametrize("n_cols", [17_770, NARROW_COLUMNS + 1])
def test_a_packed_sparse_block_comes_back_the_same(n_cols):
    values = ratings(300, n_cols, 5000)
    kind, payload = pack(values)
    back = unpack(kind, payload)
    assert back.indices.dtype == np.int32
    assert_array_equal(back.toarray(), values.toarray())
    if n_cols <= NARROW_COLUMNS:
        assert len(payload) < values.data.nbytes + values.indptr.nbytes + 3 * values.nnz


def test_the_class_and_format_of_sparse_values_are_kept():
    values = ratings(40, 300, 500)
    for kind in (sparse.csr_matrix, sparse.csc_array, sparse.csc_matrix):
        given = kind(values)
        back = pickle.loads(pickle.dumps(Block(0, given), protocol=5)).values
        assert type(back) is type(given)
        assert_array_equal(back.toarray(), values.toarray())


def test_a_shallow_copy_holds_the_same_values():
    block = Block(0, ratings(10, 50, 30))
    copied = copy.copy(block)
    assert copied.values is block.values and copied == block


def test_overlapping_calls_give_the_context_its_batch_size_back():
    """``parallelize_each`` sets the context's batch size to 1 around ``parallelize``: two
    threads at once must not leave it at 1."""

    class Context:
        _batchSize = 0  # SparkContext's default

        def parallelize(self, items, num_slices):
            seen = self._batchSize
            time.sleep(0.05)
            return seen

    sc = Context()
    seen = []
    first = threading.Thread(target=lambda: seen.append(parallelize_each(sc, [1], 1)))
    second = threading.Thread(
        target=lambda: (time.sleep(0.01), seen.append(parallelize_each(sc, [1], 1)))
    )
    first.start(), second.start()
    first.join(), second.join()
    assert seen == [1, 1] and sc._batchSize == 0
