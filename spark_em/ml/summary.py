"""The summaries of fits and evaluations: one base class, every figure an attribute.

Each estimator's summary is a ``TrainingSummary``: its figures under MLlib's names where MLlib
has them, the number of iterations, whether the stopping rule was met, and the objective after
every iteration (``objectiveHistory``, also under the family's own name: ``logLikelihoodHistory``,
``costHistory``, ``lossHistory``). ``asDict()`` is what a saved or logged model keeps and
``fromDict`` rebuilds it; ``metrics()`` are the final scalar figures a tracker records.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any, ClassVar, TypeVar

from spark_em.errors import InputError

S = TypeVar("S", bound="Summary")


@dataclass(kw_only=True, repr=False)
class Summary:
    """Figures as attributes. Fields whose names start with ``_`` are working state (the data
    a summary was made from, say): not saved, not compared, not shown.

    Examples
    --------
    >>> model.summary.numIter, model.summary.converged
    >>> model.summary.asDict()
    """

    def asDict(self) -> dict[str, Any]:
        """The figures by name (what a saved model keeps).

        Returns
        -------
        dict
            Every figure (field) by name, working state (names starting with ``_``) left
            out.
        """
        return {f.name: getattr(self, f.name) for f in fields(self) if not f.name.startswith("_")}

    @classmethod
    def fromDict(cls: type[S], saved: dict[str, Any]) -> S:
        """The summary ``asDict`` gave; a figure this version does not know is refused.

        Parameters
        ----------
        saved : dict
            The figures by name, as ``asDict`` gave them.

        Returns
        -------
        Summary
            A summary of this class holding them (an ``InputError`` when one is unknown or
            a required one is missing).
        """
        names = {f.name for f in fields(cls) if f.init and not f.name.startswith("_")}
        unknown = sorted(set(saved) - names)
        if unknown:
            raise InputError(
                f"the saved summary holds figures this version does not know: {', '.join(unknown)}"
            )
        try:
            return cls(**saved)
        except TypeError as exc:
            raise InputError(f"the saved summary is incomplete ({exc})") from None

    def metrics(self) -> dict[str, float]:
        """The finite scalar figures (booleans and lists left out): what a tracker logs.

        Returns
        -------
        dict of str to float
            Each finite number among the figures, by name.
        """
        return {
            name: float(value)
            for name, value in self.asDict().items()
            if isinstance(value, (int, float))
            and not isinstance(value, bool)
            and math.isfinite(value)
        }

    def _shown(self) -> list[tuple[str, str]]:
        """(name, value as text) of the figures a person reads first: every scalar figure
        (histories, tables and lists left out; a subclass adds or reorders)."""
        return [
            (name, _text(value))
            for name, value in self.asDict().items()
            if not isinstance(value, (list, tuple, dict)) and value is not None
        ]

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={value}" for name, value in self._shown())
        return f"{type(self).__name__}({shown})"

    def __str__(self) -> str:
        """A compact table, one figure a line."""
        rows = self._shown()
        width = max((len(name) for name, _ in rows), default=0)
        return "\n".join(
            [type(self).__name__, *(f"  {name:<{width}}  {value}" for name, value in rows)]
        )

    def _repr_html_(self) -> str:
        """The same table in a notebook."""
        import html

        cells = "".join(
            f"<tr><th style='text-align:left'>{html.escape(name)}</th>"
            f"<td style='text-align:left'>{html.escape(value)}</td></tr>"
            for name, value in self._shown()
        )
        return f"<b>{type(self).__name__}</b><table>{cells}</table>"


def warn_unconverged(estimator, summary: TrainingSummary) -> None:
    """A ``ConvergenceWarning`` when a fit stopped at its iteration cap (scikit-learn's
    convention), naming the estimator and what to change."""
    from spark_em.errors import ConvergenceWarning, warn

    if summary.converged:
        return
    warn(
        f"{type(estimator).__name__}: stopped at maxIter={estimator.getMaxIter()} before the "
        f"stopping rule (tol={estimator.getTol()}) was met: raise maxIter or loosen tol",
        ConvergenceWarning,
    )


def _text(value) -> str:
    """A figure as a person reads it: 6 significant digits, lists of numbers likewise."""
    if isinstance(value, bool) or not isinstance(value, (int, float, list, tuple)):
        return str(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_text(v) for v in value) + "]"
    return f"{value:.6g}" if isinstance(value, float) else str(value)


@dataclass(kw_only=True, repr=False)
class TrainingSummary(Summary):
    """What every fit reports: ``numIter``, ``converged`` and the objective after every
    iteration, ``objectiveHistory`` (a subclass names the objective in ``objective``: its
    history is the field ``<objective>History``).

    Attributes
    ----------
    numIter : int
        The iterations the fit made.
    converged : bool
        Whether the stopping rule was met (False: the fit stopped at ``maxIter``).

    Examples
    --------
    >>> from spark_em.ml import GaussianMixture
    >>> summary = GaussianMixture(k=3).fit(df).summary
    >>> summary.numIter, summary.converged, summary.objectiveHistory[-1]
    >>> summary.metrics()  # the final figures, as a tracker logs them
    """

    objective: ClassVar[str] = "objective"

    numIter: int
    converged: bool

    @property
    def objectiveHistory(self) -> list[float]:
        """The objective after every iteration (the log-likelihood, cost or loss)."""
        return list(getattr(self, f"{self.objective}History"))
