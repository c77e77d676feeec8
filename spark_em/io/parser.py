"""The one partition parser, and the assembly of parsed pieces into placed blocks.

A loader cuts its source into numbered pieces (``Backend.text_files``, ``items``, or a
DataFrame's partitions as ``Batches``) and parses each piece on the executors with a
``PartitionParser``: rows become checked blocks, and the piece reports a small summary (rows,
width, the first problem found, rows dropped). The driver reads the summaries (``assemble``),
raises one ``InputError`` naming the place of the earliest problem, or gives every block its
global row offset.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import NamedTuple

import numpy as np

from spark_em.engine.block import Block, block_stats_of, combined
from spark_em.engine.ops import with_summary
from spark_em.errors import InputError, executor_errors
from spark_em.kernels.arrays import MAX_MAGNITUDE, compact, out_of_range, value_problem

# check(values) -> (bad rows, bad rows that may be dropped, describe(row) -> what is wrong)
Check = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray, Callable[[int], str]]]


MISSING_MARKERS = (None, "none", "nan", "zero")


def check_missing(missing: str | None, ratings: bool) -> str | None:
    """What marks a missing value in complete-data input: None, "nan" (NaN) or "zero" (0,
    read as NaN)."""
    if missing not in MISSING_MARKERS:
        raise InputError(
            f"{{param}} must be 'nan', 'zero' or None, not {missing!r}", param="missing"
        )
    if missing in ("nan", "zero") and ratings:
        raise InputError(
            f"{{param}}={missing!r} is for complete-data input (ratings=False); "
            "ratings mark a missing entry with 0",
            param="missing",
        )
    return None if missing == "none" else missing


def value_check(ratings: bool, missing: str | None = None, names: list[str] | None = None) -> Check:
    """Every value finite (and, for ratings, >= 0), or NaN where ``missing`` allows it; a bad
    row may be dropped. A problem names its column by ``names`` (by number without them)."""

    def check(values: np.ndarray):
        bad_values = out_of_range(values) if missing else out_of_range(values) | np.isnan(values)
        if ratings:
            bad_values |= values < 0
        bad = bad_values.any(axis=1)

        def describe(row: int) -> str:
            col = int(np.flatnonzero(bad_values[row])[0])
            value = values[row, col]
            what = (
                value_problem(value)
                if not np.isfinite(value) or abs(value) > MAX_MAGNITUDE
                else (f"negative value {value:g} (ratings must be >= 0; 0 marks a missing entry)")
            )
            return f"column {col + 1 if names is None else repr(names[col])}: {what}"

        return bad, bad, describe

    return check


class Batches(NamedTuple):
    """A DataFrame to parse by Arrow record batches, a piece per Spark partition."""

    frame: object


class PartitionParser:
    """Collects one piece's rows into blocks of ``block_rows``; stops at the first problem, or
    with ``drop`` leaves out every row whose problem may be dropped and counts them.

    ``add(row, place)`` takes a row (an array) and where it came from (a line or row number
    within the piece); ``add_block(values, first_place)`` many rows at once, from consecutive
    places; ``fail(place, message, droppable)`` records a row that could not be read;
    ``flush()`` yields the last block and ``summary()`` the piece's report, as
    ("block", (piece, local start, values, weights)) and ("meta", dict) records. With a
    ``weight_column``, that column of each row (checked with the rest) leaves the values and
    becomes the block's weights; without one a block's weights are None. With ``summarize``
    (``engine.ops.block_summary``), the piece's report also holds the sum of it over the
    piece's blocks (``sums``), so the data is summarised without a pass of its own.
    """

    def __init__(
        self,
        piece: int,
        block_rows: int,
        check: Check,
        drop: bool = False,
        width: int | None = None,
        missing: str | None = None,
        weight_column: int | None = None,
        summarize: Callable[[Block], np.ndarray] | None = None,
    ):
        self.piece = piece
        self.summarize = summarize
        self.sums: np.ndarray | None = None  # Σ summarize(block) over the blocks yielded
        self.weight_column = weight_column
        self.zero_is_missing = missing == "zero"  # a 0 is read as NaN
        self.block_rows = block_rows
        self.check = check
        self.drop = drop
        self.dropped = 0
        # the rows not yet in a block: arrays of rows, and the places they came from
        self.chunks: list[np.ndarray] = []
        self.places: list[np.ndarray] = []
        self.pending = 0
        self.n_rows = 0
        self.width: int | None = width  # None: the first row's
        self.first_place: int | None = None
        self.error: tuple[int, str] | None = None

    def _problems(self):
        """(rows in the way of a block, rows to leave out, describe, the rows, their places)
        of the pending rows."""
        values = self.chunks[0] if len(self.chunks) == 1 else np.concatenate(self.chunks)
        places = self.places[0] if len(self.places) == 1 else np.concatenate(self.places)
        values = np.array(values, dtype=np.float64)  # a copy the checks may change
        if self.zero_is_missing:
            zeros = values == 0
            if self.weight_column is not None:
                zeros[:, self.weight_column] = False  # a weight of 0 is a weight
            values[zeros] = np.nan
        bad, droppable, describe = self.check(values)
        fatal = bad & ~droppable if self.drop else bad
        return fatal, bad, describe, values, places

    def _pending_problem(self) -> tuple[int, str] | None:
        """The first problem among the rows not yet in a block, as (place, message)."""
        if not self.chunks:
            return None
        fatal, _, describe, _, places = self._problems()
        if not fatal.any():
            return None
        row = int(np.flatnonzero(fatal)[0])
        return int(places[row]), describe(row)

    def fail(self, place: int, message: str, droppable: bool = True) -> None:
        """Record a problem at ``place`` unless a pending row before it has one already (with
        ``drop`` and a ``droppable`` problem: count the row as dropped)."""
        if self.drop and droppable:
            self.dropped += 1
            return
        self.error = self._pending_problem() or (place, message)

    def _wrong_width(self, width: int, place: int) -> bool:
        """Whether rows of ``width`` values are refused (the first row sets the width)."""
        if self.width is None:
            self.width, self.first_place = width, place
            return False
        return width != self.width

    def add(self, row: np.ndarray, place: int, droppable: bool = True) -> Iterator[tuple]:
        """A row from ``place``; one of another width is a problem (``droppable`` or not)."""
        if self._wrong_width(row.size, place):
            self.fail(
                place, f"{row.size} values, expected {self.width} as on the rows before", droppable
            )
            return
        yield from self._take(np.reshape(row, (1, -1)), np.array([place]))

    def add_block(self, values: np.ndarray, first_place: int) -> Iterator[tuple]:
        """Many rows at once (a 2-D array), from places ``first_place``, ``first_place + 1``,
        ...; rows of another width than the rows before are a problem."""
        if self.error or values.shape[0] == 0:
            return
        if self._wrong_width(values.shape[1], first_place):
            self.fail(
                first_place,
                f"{values.shape[1]} values, expected {self.width} as on the rows before",
                droppable=False,
            )
            return
        yield from self._take(values, np.arange(first_place, first_place + values.shape[0]))

    def _take(self, values: np.ndarray, places: np.ndarray) -> Iterator[tuple]:
        """Pending rows, a block flushed whenever ``block_rows`` are waiting."""
        at = 0
        while at < values.shape[0] and not self.error:
            room = self.block_rows - self.pending
            self.chunks.append(values[at : at + room])
            self.places.append(places[at : at + room])
            taken = self.chunks[-1].shape[0]
            self.pending += taken
            at += taken
            if self.pending == self.block_rows:
                yield from self.flush()

    def flush(self) -> Iterator[tuple]:
        if not self.chunks or self.error:
            return
        fatal, bad, describe, values, places = self._problems()
        if fatal.any():
            row = int(np.flatnonzero(fatal)[0])
            self.error = int(places[row]), describe(row)
            return
        self.chunks, self.places, self.pending = [], [], 0
        if bad.any():
            values = values[~bad]
            self.dropped += int(bad.sum())
        if values.shape[0]:
            weights = None
            if self.weight_column is not None:
                weights = values[:, self.weight_column].astype(np.float64)
                values = np.delete(values, self.weight_column, axis=1)
            block = compact(values)
            if self.summarize is not None:
                part = self.summarize(Block(self.n_rows, block, weights))
                self.sums = part if self.sums is None else self.sums + part
            yield ("block", (self.piece, self.n_rows, block, weights))
            self.n_rows += values.shape[0]

    def summary(self, **extra) -> tuple:
        return (
            "meta",
            dict(
                partition=self.piece,
                n_rows=self.n_rows,
                width=self.width,
                first_place=self.first_place,
                error=self.error,
                dropped=self.dropped,
                sums=self.sums,
                **extra,
            ),
        )


def _other_width(width: int, expected: int) -> str:
    return f"{width} values, expected {expected} as on the rows before"


def _checked_rows(
    metas: list[dict], describe, report: dict | None, other_width: Callable = _other_width
) -> dict[int, int]:
    """Each piece's row count, after raising the earliest problem the summaries report
    (``other_width(width, expected)`` says what is wrong with a piece whose rows are wider or
    narrower than the first piece's)."""
    if not any(m["n_rows"] or m["error"] for m in metas):
        raise InputError(describe(None, metas))
    first = next((m for m in metas if m["width"] is not None), None)
    problems = []
    for meta in metas:  # in piece order, so the first problem is the earliest
        if first and meta["width"] not in (None, first["width"]):
            width_error = (meta["first_place"], other_width(meta["width"], first["width"]))
            if not meta["error"] or meta["error"][0] > width_error[0]:
                meta = dict(meta, error=width_error)
        if meta["error"]:
            problems.append(meta)
    if problems:
        raise InputError(describe(problems[0], metas))
    if report is not None:
        report["dropped"] = sum(m.get("dropped", 0) for m in metas)
    return {m["partition"]: m["n_rows"] for m in metas}


@executor_errors()
def assemble(
    backend,
    pieces,
    parse,
    describe,
    report: dict | None = None,
    other_width: Callable = _other_width,
) -> tuple[object, list[dict]]:
    """Parse ``pieces`` with ``parse(piece, rows)`` (or, for a DataFrame of batches, with
    ``parse(piece, batches)``: ``columnar.parse_batches``), check the summaries and return
    the cached blocks with global offsets, and the summaries (in piece order).

    ``describe(meta, metas)`` turns a piece's error (or, for ``meta`` None, an input with no
    rows) into the message to raise. ``report``, if given, receives ``dropped``: the rows left
    out as bad. ``other_width(width, expected)`` words a piece whose rows differ in width from
    the first piece's.
    """
    parsed = (
        backend.parse_frame(pieces.frame, parse)
        if isinstance(pieces, Batches)
        else backend.parse(pieces, parse)
    )
    try:
        metas = backend.metas(parsed)
        rows = _checked_rows(metas, describe, report, other_width)
    except BaseException:
        parsed.unpersist()
        raise
    starts = np.concatenate([[0], np.cumsum(list(rows.values()))[:-1]]).astype(int)
    blocks = backend.place(parsed, dict(zip(rows, starts.tolist())))
    sums = [m["sums"] for m in metas if m.get("sums") is not None]
    if sums:  # the parsers summed their blocks (``summarize``): no pass to summarize them
        blocks = with_summary(blocks, np.sum(sums, axis=0))
    return blocks, metas


@executor_errors()
def aggregate_parsed(
    backend,
    pieces: Batches,
    parse,
    describe,
    block_stats: Callable,
    add: Callable,
    params,
    report: dict | None = None,
    other_width: Callable = _other_width,
) -> tuple[object, list[dict]]:
    """What ``assemble`` and then ``ops.aggregate`` would give, in one pass and nothing
    cached: each partition of ``pieces`` is parsed as ``assemble`` parses it and its blocks
    summed at once, Σ ``block_stats(values, params)`` (``add`` merging). Returns the total and
    the summaries, after raising the earliest problem as ``assemble`` does. For a fit that
    needs one pass over the data: caching blocks for one read costs more than the read."""

    def fold(piece: int, batches) -> tuple[dict, object]:
        meta, total = {}, None
        for tag, body in parse(piece, batches):
            if tag == "meta":
                meta = body
                continue
            _, local_start, values, weights = body
            stats = block_stats_of(Block(local_start, values, weights), block_stats, params)
            total = stats if total is None else add(total, stats)
        return meta, total

    folded = backend.fold_frame(pieces.frame, fold)
    metas = [meta for meta, _ in folded]
    _checked_rows(metas, describe, report, other_width)
    return combined([total for _, total in folded if total is not None], add), metas


def rows_before(meta: dict, metas: list[dict], same_source: Callable = lambda a, b: True) -> int:
    """Lines (or rows) in the pieces before ``meta``'s (of the same source): to turn a place
    within a piece into one within its file or DataFrame."""
    return sum(
        m["n_lines"] for m in metas if same_source(m, meta) and m["partition"] < meta["partition"]
    )
