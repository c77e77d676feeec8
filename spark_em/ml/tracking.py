"""What a fit reports to an experiment tracker, when one listens.

Nothing listens by default: an integration registers a listener when it is switched on
(``spark_em.mlflow.autolog()``) and removes it when it is switched off. A listener hears of
each fit a user makes, ``fit(df)`` directly or as a ``Pipeline`` stage; fits made under a
param map (``fit(df, params)``, which is how ``CrossValidator``, ``TrainValidationSplit`` and
``fitMultiple`` fit each candidate) and fits made while another spark-em fit runs in the same
thread are the tuner's or the outer fit's business, as in MLflow's own pyspark.ml
autologging, and are not reported one by one.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable

Listener = Callable[[object, object], None]

_listeners: list[Listener] = []
_depth = threading.local()  # spark-em fits in progress in this thread


def listen(listener: Listener) -> None:
    """Have ``listener(estimator, model)`` called after every reported fit."""
    if listener not in _listeners:
        _listeners.append(listener)


def forget(listener: Listener) -> None:
    """Stop calling ``listener``."""
    if listener in _listeners:
        _listeners.remove(listener)


def fitted(estimator, model):
    """Tell the listeners about ``model``; a listener's failure is a warning, never the fit's
    (a listener that wants silence catches its own errors)."""
    for listener in list(_listeners):
        try:
            listener(estimator, model)
        except Exception as exc:
            warnings.warn(f"spark-em: reporting the fit failed ({exc})", stacklevel=2)
    return model


class Tracked:
    """An estimator whose fits are reported to ``fitted``: those made directly, not those
    made under a param map or inside another spark-em fit."""

    def fit(self, dataset, params=None):
        """Fit a model to ``dataset``, as ``pyspark.ml.Estimator.fit`` does, and report it to
        the listeners when the fit is made directly.

        Parameters
        ----------
        dataset : pyspark.sql.DataFrame
            The data.
        params : dict or list or tuple, optional
            A param map that overrides the estimator's params, or a list of them (one model
            each); fits made with one are not reported.

        Returns
        -------
        Model or list of Model
            The fitted model, or one per param map.
        """
        depth = getattr(_depth, "value", 0)
        _depth.value = depth + 1
        try:
            model = super().fit(dataset, params)  # type: ignore[misc]
        finally:
            _depth.value = depth
        if params is not None or depth > 0 or isinstance(model, (list, tuple)):
            return model
        return fitted(self, model)
