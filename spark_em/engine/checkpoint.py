"""A fit's complete iteration state on disk after every pass, to resume after losing the driver.

``DIR/state.json`` holds a fingerprint of the input and the options, the number of passes
done, and for every start its parameters, last objective, history and whether it has stopped.
Each save writes a new file beside the old one and renames it over it, so a driver killed at
any moment leaves the previous complete state. Numbers are JSON floats, which read back as the
same float64 values, so a resumed run ends with the model an uninterrupted one would have.
Nothing is unpickled: the state is plain JSON.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from spark_em.engine.loop import Iteration, RunState
from spark_em.errors import InputError

STATE = "state.json"
FORMAT = 1


class Checkpoint:
    """Saves and loads ``RunState`` in ``directory`` for one fingerprint of input and options;
    the loop passes its family's ``encode``/``decode``, which turn a start's parameters into
    JSON and back."""

    def __init__(self, directory: str | Path, fingerprint: dict):
        self.directory = Path(directory)
        self.fingerprint = json.loads(json.dumps(fingerprint))  # as it will read back

    @property
    def path(self) -> Path:
        return self.directory / STATE

    def exists(self) -> bool:
        return self.path.is_file()

    def check_start(self, resume: bool) -> Checkpoint:
        """Itself, unless it would overwrite a saved state without ``resume``."""
        if self.exists() and not resume:
            raise InputError(
                f"{self.directory} holds a checkpoint already: add {{param}} to "
                "continue it, or choose another directory",
                param="resume",
            )
        for stale in self.directory.glob(f".{STATE}.*.tmp"):  # left by a run killed mid-write
            stale.unlink(missing_ok=True)
        return self

    def save(self, state: RunState, encode: Callable) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        starts = [
            {
                "params": encode(p),
                "previous": prev,
                "history": [[h.iteration, h.objective, h.relative_change, h.seconds] for h in hist],
                "finished": state.finished.get(i),
            }
            for i, (p, prev, hist) in enumerate(zip(state.params, state.previous, state.history))
        ]
        text = json.dumps(
            {
                "format": FORMAT,
                "fingerprint": self.fingerprint,
                "iteration": state.iteration,
                "starts": starts,
            },
            allow_nan=False,
        )
        partial = self.directory / f".{STATE}.{os.getpid()}.tmp"
        try:
            with open(partial, "w") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            os.replace(partial, self.path)
        finally:
            partial.unlink(missing_ok=True)

    def load(self, decode: Callable) -> RunState:
        """The saved state; an ``InputError`` if there is none, it is unreadable, or it was
        written for other input or options."""
        if not self.exists():
            raise InputError(f"{self.directory}: no checkpoint to resume ({STATE} not found)")
        try:
            saved = json.loads(self.path.read_text())
            if saved.get("format") != FORMAT:
                raise ValueError(f"format {saved.get('format')!r}, expected {FORMAT}")
            differ = sorted(
                k
                for k in set(saved["fingerprint"]) | set(self.fingerprint)
                if saved["fingerprint"].get(k) != self.fingerprint.get(k)
            )
            if differ:
                raise InputError(
                    f"{self.path} was written for another run: it differs in {', '.join(differ)}"
                )
            starts = saved["starts"]
            return RunState(
                int(saved["iteration"]),
                [decode(s["params"]) for s in starts],
                [s["previous"] for s in starts],
                [
                    [Iteration(int(h[0]), float(h[1]), h[2], float(h[3])) for h in s["history"]]
                    for s in starts
                ],
                {i: bool(s["finished"]) for i, s in enumerate(starts) if s["finished"] is not None},
            )
        except InputError:
            raise
        except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
            raise InputError(f"{self.path}: not a readable checkpoint ({exc})") from None


def data_fingerprint(summary) -> dict:
    """Shape, observed count and a digest of the column sums: another input shows up here."""
    import hashlib

    digest = hashlib.sha256(
        np.ascontiguousarray(summary.column_summary, dtype=np.float64).tobytes()
    )
    return {
        "n_rows": summary.n_rows,
        "n_cols": summary.n_cols,
        "n_observed": summary.n_observed,
        "column_sums_sha256": digest.hexdigest(),
    }
