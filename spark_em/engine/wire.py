"""Results that travel from the executors to the driver without pickle: a JSON tree of the
structure and ``.npy`` bytes for the arrays (read back with ``allow_pickle=False``).

What a pass returns is numbers, text, numpy arrays, CSR arrays, and lists, tuples, dicts and
records (``NamedTuple``s) of them. A record comes back as its class only if that class is
registered (``kernels.arrays.record``): nothing named in the bytes is imported or evaluated, so
a Spark Connect client can read what a server it does not trust sends it.
"""

from __future__ import annotations

import io
import json
import struct
from typing import Any

import numpy as np
from scipy import sparse

from spark_em.kernels.arrays import RECORDS


def encode(value: Any) -> bytes:
    """``value`` as bytes: a JSON tree, then the ``.npy`` bytes of every array in it."""
    arrays: list[np.ndarray] = []
    tree = json.dumps(_tree(value, arrays)).encode()
    out = io.BytesIO()
    out.write(struct.pack("<Q", len(tree)))
    out.write(tree)
    for array in arrays:
        np.save(out, array, allow_pickle=False)
    return out.getvalue()


def decode(payload: bytes) -> Any:
    """What ``encode`` wrote; a ``ValueError`` for anything else (never unpickles)."""
    stream = io.BytesIO(payload)
    (size,) = struct.unpack("<Q", stream.read(8))
    tree = json.loads(stream.read(size).decode())
    return _value(tree, stream)


def _tree(value: Any, arrays: list) -> Any:
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, np.generic):
        return _tree(value.item(), arrays)
    if isinstance(value, np.ndarray):
        if value.dtype.hasobject:
            raise TypeError("arrays of Python objects cannot travel")
        arrays.append(value)
        return {"a": len(arrays) - 1}
    if sparse.issparse(value):
        csr = sparse.csr_array(value)
        parts = [np.array(csr.shape), csr.indptr, csr.indices, csr.data]
        return {"csr": [_tree(p, arrays) for p in parts]}
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        name = f"{type(value).__module__}.{type(value).__qualname__}"
        if name not in RECORDS:
            raise TypeError(f"{name} is not a registered record (kernels.arrays.record)")
        return {"r": name, "v": [_tree(v, arrays) for v in value]}
    if isinstance(value, tuple):
        return {"t": [_tree(v, arrays) for v in value]}
    if isinstance(value, list):
        return [_tree(v, arrays) for v in value]
    if isinstance(value, dict):
        return {"d": [[_tree(k, arrays), _tree(v, arrays)] for k, v in value.items()]}
    raise TypeError(f"a {type(value).__name__} cannot travel")


def _value(tree: Any, stream: io.BytesIO) -> Any:
    if isinstance(tree, list):
        return [_value(v, stream) for v in tree]
    if not isinstance(tree, dict):
        return tree
    if "a" in tree:
        return np.load(stream, allow_pickle=False)
    if "csr" in tree:
        shape, indptr, indices, data = (_value(p, stream) for p in tree["csr"])
        return sparse.csr_array((data, indices, indptr), shape=tuple(int(n) for n in shape))
    if "r" in tree:
        cls = RECORDS.get(tree["r"])
        if cls is None:
            raise ValueError(f"{tree['r']!r} is not a registered record")
        return cls(*(_value(v, stream) for v in tree["v"]))
    if "t" in tree:
        return tuple(_value(v, stream) for v in tree["t"])
    if "d" in tree:
        return {_value(k, stream): _value(v, stream) for k, v in tree["d"]}
    raise ValueError("not a spark-em result")
