"""The cached data a set of blocks is computed from: a loader's blocks may be a cheap step
(placing parsed blocks at their rows) over cached parsed data rather than a second cached
copy, and freeing the blocks frees that data."""

from __future__ import annotations

HELD = "_spark_em_held"  # the cached data a set of blocks is computed from, when not itself


def derived(blocks, source):
    """``blocks``, computed by a cheap step from the cached ``source`` (placing parsed blocks
    at their rows): not cached a second time, and ``free`` frees ``source`` with them."""
    setattr(blocks, HELD, source)
    return blocks


def free(blocks, blocking: bool = False) -> None:
    """Unpersist ``blocks`` and the cached data they are derived from."""
    blocks.unpersist(blocking)
    source = carried(blocks, HELD)
    if source is not None:
        source.unpersist(blocking)


def carried(blocks, name: str):
    """What ``name`` holds on ``blocks`` (set by ``setattr``), or None: read from the object's
    own attributes, since a Spark Connect DataFrame answers any other name with a column."""
    return vars(blocks).get(name)
