"""Blocks: the records the data are kept in on either backend. Pure records, no Spark.

A ``Block`` is many rows: the global index of its first row (``offset``), its values (a
numpy array, or a scipy.sparse CSR array of the observed entries, compacted by
``kernels.arrays.compact``) and, for weighted data, each row's weight. Rows can then be
fetched by index and results returned in input order. ``pack``/``unpack`` turn values into
``.npy`` bytes and back (never pickles), and ``pack_block``/``unpack_block`` a whole block:
that is how the DataFrame backend stores blocks and how they travel as DataFrame rows.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import NamedTuple

import numpy as np
from scipy import sparse

from spark_em.kernels.arrays import compact, record

DEFAULT_BLOCK_ROWS = 4096
# Below this much input per partition, a pass costs more in task overhead than it gains from
# parallel work; larger inputs get at least one partition per core.
BYTES_PER_PARTITION = 4 * 1024 * 1024
# A piece of a text source is numbered (file index + 1) * FILE_PIECES + its place in the file
# (a split's first byte, or its rank), so pieces sort in line order and a file's first piece
# is a multiple of FILE_PIECES.
FILE_PIECES = 2**40


# A CSR block of at most this many columns travels with its column indices in two bytes.
NARROW_COLUMNS = 2**16


@record
class Block(NamedTuple):
    offset: int
    values: np.ndarray
    weights: np.ndarray | None = None  # each row's weight (float64); None: every row weighs 1

    def __reduce__(self):
        """Pickled (into a cache, and in every pass from the JVM to the Python workers) with a
        CSR block's column indices as ``travelling_indices`` gives them; unpickled, scipy gives
        them its own index type again."""
        values = self.values
        if sparse.issparse(values) and values.format == "csr":
            parts = (values.shape, values.indptr, travelling_indices(values), values.data)
            return _sparse_block, (self.offset, type(values), *parts, self.weights)
        return Block, tuple(self)

    def __copy__(self):
        """A shallow copy holds the same values (not a rebuilt matrix sharing part of them)."""
        return Block(*self)


def travelling_indices(values) -> np.ndarray:
    """A CSR block's column indices as they are pickled and packed: uint16 when its columns
    fit (a rating stored in a byte then moves and is cached in 3 bytes instead of 5)."""
    if values.shape[1] <= NARROW_COLUMNS:
        return values.indices.astype(np.uint16)
    return values.indices


def _sparse_block(offset, kind, shape, indptr, indices, data, weights) -> Block:
    """The block ``Block.__reduce__`` pickled, its values of class ``kind`` again (scipy makes
    the indices int32)."""
    return Block(offset, kind((data, indices, indptr), shape=shape), weights)


def block_stats_of(block: Block, block_stats, params):
    """``block_stats(values, params)`` of a block, given ``weights=`` when its rows have them:
    how every pass calls a family's kernel."""
    if block.weights is None:
        return block_stats(block.values, params)
    return block_stats(block.values, params, weights=block.weights)


def default_partitions(parallelism: int, n_bytes: int) -> int:
    """Partitions for ``n_bytes`` of input on a cluster of this ``parallelism``."""
    return max(1, min(parallelism, -(-n_bytes // BYTES_PER_PARTITION)))


def split_rows(values: np.ndarray, block_rows: int) -> Iterator[tuple[int, np.ndarray]]:
    """(local start, rows) pieces of at most ``block_rows`` rows, compacted."""
    for start in range(0, values.shape[0], block_rows):
        yield start, compact(values[start : start + block_rows])


def array_blocks(
    X: np.ndarray, num_partitions: int, block_rows: int, weights: np.ndarray | None = None
) -> list[Block]:
    """An in-memory array (and each row's weight, if given) cut into blocks for
    ``num_partitions`` partitions (at most ``block_rows`` rows each)."""
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[0] == 0:
        raise ValueError(f"expected a non-empty 2-D array, got shape {X.shape}")
    if weights is not None:
        weights = np.asarray(weights, dtype=np.float64)
        if weights.shape != (X.shape[0],):
            raise ValueError(
                f"expected one weight per row ({X.shape[0]}), got shape {weights.shape}"
            )
    step = min(block_rows, max(1, -(-X.shape[0] // num_partitions)))
    return [
        Block(start, piece, None if weights is None else weights[start : start + step].copy())
        for start, piece in split_rows(X, step)
    ]


def pack(values) -> tuple[str, bytes]:
    """("dense" or "csr", the values as ``.npy`` bytes)."""
    out = io.BytesIO()
    if sparse.issparse(values):
        values = values.tocsr()
        indices = travelling_indices(values)
        for part in (np.array(values.shape), values.indptr, indices, values.data):
            np.save(out, part, allow_pickle=False)
        return "csr", out.getvalue()
    np.save(out, np.asarray(values), allow_pickle=False)
    return "dense", out.getvalue()


def _read_values(kind: str, stream):
    if kind == "csr":
        shape, indptr, indices, data = (np.load(stream, allow_pickle=False) for _ in range(4))
        return sparse.csr_array((data, indices, indptr), shape=tuple(shape))
    return np.load(stream, allow_pickle=False)


def unpack(kind: str, payload: bytes):
    return _read_values(kind, io.BytesIO(payload))


WEIGHTED = "+weights"  # a packed block's kind ends with this when its weights follow the values


def pack_block(block: Block) -> tuple[str, bytes]:
    """A block's values, then its weights if it has them, as (kind, ``.npy`` bytes)."""
    kind, payload = pack(block.values)
    if block.weights is None:
        return kind, payload
    out = io.BytesIO()
    np.save(out, np.asarray(block.weights, dtype=np.float64), allow_pickle=False)
    return kind + WEIGHTED, payload + out.getvalue()


def unpack_block(offset: int, kind: str, payload: bytes) -> Block:
    stream = io.BytesIO(payload)
    if kind.endswith(WEIGHTED):
        values = _read_values(kind[: -len(WEIGHTED)], stream)
        return Block(offset, values, np.load(stream, allow_pickle=False))
    return Block(offset, _read_values(kind, stream))


def cutter(ranges: list[tuple[int, int]]):
    """``cut(block)``: the pieces of another block of rows that fall in each of the row
    ``ranges`` (first row, rows; sorted), as (that range's first row, (first row, rows))."""
    starts = np.array([r[0] for r in ranges])

    def cut(block: Block):
        pieces, lo, hi = [], block.offset, block.offset + block.values.shape[0]
        i = int(np.searchsorted(starts, lo, side="right")) - 1
        while lo < hi and 0 <= i < len(ranges):
            start, rows = ranges[i]
            end = min(hi, start + rows)
            pieces.append((start, (lo, block.values[lo - block.offset : end - block.offset])))
            lo, i = end, i + 1
        return pieces

    return cut


def joined(block: Block, pieces: list) -> tuple[Block, np.ndarray]:
    """``block`` with the rows of the (first row, rows) ``pieces`` cut to meet it."""
    parts = [v for _, v in sorted(pieces, key=lambda p: p[0])]
    rows = (
        sparse.vstack(parts, format="csr") if sparse.issparse(parts[0]) else np.concatenate(parts)
    )
    if rows.shape[0] != block.values.shape[0]:
        raise ValueError(
            f"rows {block.offset}+: {rows.shape[0]} rows to pair with "
            f"{block.values.shape[0]}; the two matrices differ in length"
        )
    return block, rows


def combined(parts: list, combine):
    """``combine`` over ``parts`` in order."""
    if not parts:
        raise ValueError("the data holds no blocks")
    total = parts[0]
    for part in parts[1:]:
        total = combine(total, part)
    return total
