"""Progress of a fit: one line per pass of every start, on the ``spark_em`` logger.

The loop reports every pass here (at INFO); nothing is shown unless someone listens: the
jobs show these lines on stderr, an estimator shows them while it fits with ``verbose=True``,
and an application can configure ``logging.getLogger("spark_em")`` like any other logger
(``logging.basicConfig(level=logging.INFO)`` shows them with the application's format).
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
from collections.abc import Iterator

LOGGER = logging.getLogger("spark_em")

_lock = threading.Lock()
_showing = 0  # blocks showing progress now, in any thread
_saved: tuple[int, bool] = (logging.NOTSET, True)  # the logger's level and propagation before


def line(label: str, record, objective: str = "log-likelihood") -> str:
    """One pass as a line: the start's label, the pass's number, objective, relative change
    and seconds."""
    change = "" if record.relative_change is None else f"{record.relative_change:.3e}"
    return (
        f"{label} iter {record.iteration:4d}  {objective} {record.objective:.10f}  "
        f"change {change:>10}  {record.seconds:.3f}s"
    )


def report(label: str, record, objective: str = "log-likelihood") -> None:
    """Log one pass at INFO (formatted only when someone listens)."""
    if LOGGER.isEnabledFor(logging.INFO):
        LOGGER.info(line(label, record, objective))


class _Stderr(logging.StreamHandler):
    """Lines to whatever ``sys.stderr`` is when they are logged (a notebook's, a test's)."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(logging.Formatter("%(message)s"))

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


@contextlib.contextmanager
def shown(enabled: bool = True) -> Iterator[None]:
    """While the block runs, show every pass on stderr, message only: the jobs' progress, and
    an estimator's with ``verbose=True`` (as scikit-learn's ``verbose`` prints whatever the
    logging set-up). The lines then go to stderr only, not also to the application's own
    handlers; with ``enabled`` false the application's configuration decides, as always."""
    global _showing, _saved
    if not enabled:
        yield
        return
    with _lock:
        if _showing == 0:
            _saved = (LOGGER.level, LOGGER.propagate)
            LOGGER.addHandler(_handler)
            LOGGER.setLevel(logging.INFO)
            LOGGER.propagate = False
        _showing += 1
    try:
        yield
    finally:
        with _lock:
            _showing -= 1
            if _showing == 0:
                LOGGER.removeHandler(_handler)
                LOGGER.setLevel(_saved[0])
                LOGGER.propagate = _saved[1]


_handler = _Stderr()
